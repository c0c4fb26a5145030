import ActyCore
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// Runs `body` with a fresh temporary folder, removed afterwards: every test gets its own database file.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("acty-store-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url.path)
}

/// Runs `body` with a store on a new file in a temporary folder, closed afterwards.
func withStore<T>(
    durability: Durability = .process, _ body: (Store, _ path: String) async throws -> T
) async throws -> T {
    try await withTemporaryDirectory { directory in
        let path = directory + "/acty.db"
        let store = try Store(.file(path), durability: durability)
        defer { try? store.close() }
        return try await body(store, path)
    }
}

/// Waits until `condition` holds, checking every millisecond, for at most `timeout`.
func waitUntil(
    timeout: Duration = .seconds(10), _ what: String = "condition", _ condition: @Sendable () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out after \(timeout) waiting for \(what)")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}

/// A thread-safe value for tests to share between tasks and the writer thread.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Locked<Value>

    init(_ value: Value) { storage = Locked(value) }

    var value: Value { storage.withLock { $0 } }

    @discardableResult
    func update<R: Sendable>(_ body: (inout Value) -> R) -> R { storage.withLock { body(&$0) } }
}

/// The current time as the store writes it.
var now: Double { Date().timeIntervalSince1970 }

extension NewJob {
    static func echo(_ payload: String = "{}", priority: Int = 0, executor: String = "echo") -> NewJob {
        NewJob(executor: executor, payload: payload, priority: priority)
    }
}

extension NewGroup {
    /// A closed group with a primer and `followers` followers.
    static func closed(
        _ key: String, lane: String = "default", followers: Int = 2, executor: String = "echo",
        primerPolicy: PrimerFailurePolicy = .failGroup, followerPolicy: FollowerFailurePolicy = .failGroup,
        laneMaxInflight: Int? = nil
    ) -> NewGroup {
        NewGroup(
            key: key, lane: lane, laneMaxInflight: laneMaxInflight, primer: .echo(#"{"primer":true}"#, executor: executor),
            followers: (0..<followers).map { .echo(#"{"follower":\#($0)}"#, executor: executor) }, isClosed: true,
            primerPolicy: primerPolicy, followerPolicy: followerPolicy
        )
    }
}

extension Store {
    /// Adds one job to an open group: ``addJobs(_:role:toGroup:skipPrimerOnCacheHit:worker:)`` with one job.
    func addJob(_ job: NewJob, role: JobRole, toGroup group: GroupID, worker: String?) async throws -> (JobID, WriteEffects) {
        let (ids, effects) = try await addJobs([job], role: role, toGroup: group, worker: worker)
        return (ids[0], effects)
    }
}
