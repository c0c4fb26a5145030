import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// A wait in a test helper or executor that ran out of time: the condition it waited for never came.
struct WaitTimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Like ``waitUntil(timeout:_:)``, but throws when the condition never holds: for executors and setup steps.
func require(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    guard try await waitUntil(timeout: timeout, condition) else { throw WaitTimedOut(what: what) }
}

/// A one-way latch that executors wait on, so a test decides when a job may finish.
final class Gate: Sendable {
    private let isOpenState = Locked(false)

    var isOpen: Bool { isOpenState.withLock { $0 } }

    func open() { isOpenState.withLock { $0 = true } }

    /// Waits until the gate is open; throws after `timeout` so a failing test cannot hang the suite.
    func wait(timeout: Duration = .seconds(20)) async throws {
        try await require("a gate to open", timeout: timeout) { isOpen }
    }
}

/// An executor named `gated` that returns each job's payload once `gate` opens.
func gated(by gate: Gate) -> ClosureExecutor {
    ClosureExecutor(name: "gated") { job in
        try await gate.wait()
        return job.payload
    }
}

/// Counts how many executions of each key (a lane, a role) run at once, and the most that ever did.
final class ConcurrencyGauge: Sendable {
    private let state = Locked<(current: [String: Int], peak: [String: Int])>(([:], [:]))

    func current(_ key: String) -> Int { state.withLock { $0.current[key, default: 0] } }
    func peak(_ key: String) -> Int { state.withLock { $0.peak[key, default: 0] } }

    /// Runs `body` counted as one execution of `key`.
    func measure<T: Sendable>(_ key: String, _ body: () async throws -> T) async throws -> T {
        state.withLock { state in
            state.current[key, default: 0] += 1
            state.peak[key] = max(state.peak[key, default: 0], state.current[key]!)
        }
        defer { state.withLock { $0.current[key, default: 0] -= 1 } }
        return try await body()
    }
}

/// A thread-safe list of values that executors append to.
final class Recorder<Value: Sendable>: Sendable {
    private let items = Locked<[Value]>([])

    func append(_ value: Value) { items.withLock { $0.append(value) } }
    var values: [Value] { items.withLock { $0 } }
    var count: Int { items.withLock { $0.count } }
}

/// Lets an executor reach the engine it runs in, which exists only after the executor was created.
final class EngineBox: Sendable {
    private let box = Locked<ActyEngine?>(nil)
    var engine: ActyEngine? {
        get { box.withLock { $0 } }
        set { box.withLock { $0 = newValue } }
    }
}

/// The error an executor throws to fail a job on purpose.
struct PlannedFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String = "planned failure") { self.description = description }
}

/// An executor named `work` that fails jobs whose payload has `"fail": true` and returns the payload otherwise.
func failingOnRequest(name: String = "work", delay: Duration? = nil) -> ClosureExecutor {
    ClosureExecutor(name: name) { job in
        if let delay { try await Task.sleep(for: delay) }
        if job.payload["fail"]?.boolValue == true { throw PlannedFailure("job \(job.id) was asked to fail") }
        return job.payload
    }
}

/// Creates an engine on `dir`'s database file, running in the background unless `runsInBackground` is `false`.
func makeEngine(
    _ dir: TemporaryDirectory,
    _ configuration: EngineConfiguration = EngineConfiguration(),
    executors: [any Executor] = [EchoExecutor()],
    runsInBackground: Bool = true
) async throws -> ActyEngine {
    try await ActyEngine(database: .file(dir.file()), configuration: configuration, executors: executors, runsInBackground: runsInBackground)
}

/// Expects `body` to throw an ``ActyError`` with `code`.
func expectError<T>(
    _ code: ActyError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async {
    let error = await #expect(throws: ActyError.self, sourceLocation: sourceLocation) { _ = try await body() }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
}

/// Runs `body` with an engine on `dir`'s database file and shuts the engine down afterwards, also when `body` throws.
func withEngine<T>(
    _ dir: TemporaryDirectory,
    _ configuration: EngineConfiguration = EngineConfiguration(),
    executors: [any Executor] = [EchoExecutor()],
    _ body: (ActyEngine) async throws -> T
) async throws -> T {
    let engine = try await makeEngine(dir, configuration, executors: executors)
    do {
        let value = try await body(engine)
        try await engine.boundedShutdown()
        return value
    } catch {
        try? await engine.boundedShutdown()
        throw error
    }
}

/// Waits until every group of `submissions` has succeeded on `engine`, and checks that each job ended succeeded with
/// exactly one succeeded attempt.
func expectEveryJobSucceededOnce(_ submissions: [GroupSubmission], on engine: ActyEngine) async throws {
    for submission in submissions {
        #expect(try await engine.waitForGroup(submission.groupKey, state: .succeeded))
    }
    for job in submissions.flatMap(\.jobs) {
        let outcomes = try await engine.store.attempts(of: job.id).map(\.outcome)
        #expect(outcomes.filter { $0 == "succeeded" }.count == 1, "\(outcomes)")
        #expect(try await engine.store.job(job.id)?.state == .succeeded)
    }
    #expect(try await engine.store.jobsSucceededMoreThanOnce() == 0)
}

/// Runs `body`, throwing ``WaitTimedOut`` (and cancelling it) when it does not return within `timeout`.
func bounded<T: Sendable>(_ what: String, timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw WaitTimedOut(what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

extension JobHandle {
    /// ``JobHandle/result()``, throwing ``WaitTimedOut`` instead of hanging when the job does not finish in time.
    func boundedResult(timeout: Duration = .seconds(20)) async throws -> JobResult {
        try await bounded("the result of job \(id)", timeout: timeout) { try await self.result() }
    }
}

extension ActyEngine {
    /// ``shutdown()``, throwing ``WaitTimedOut`` instead of hanging when it does not return in time.
    func boundedShutdown(timeout: Duration = .seconds(20)) async throws {
        let outcome = Recorder<Result<Void, any Error>>()
        Task {
            do {
                try await self.shutdown()
                outcome.append(.success(()))
            } catch {
                outcome.append(.failure(error))
            }
        }
        try await require("the engine to shut down", timeout: timeout) { outcome.count > 0 }
        try outcome.values[0].get()
    }
}

extension ActyEngine {
    /// Every event of the database, oldest first.
    func allEvents() async throws -> [EventRecord] {
        try await store.events(after: 0, limit: 1_000_000)
    }

    /// Waits until the group with `key` reached `state`.
    func waitForGroup(_ key: String, state: GroupState, timeout: Duration = .seconds(20)) async throws -> Bool {
        try await waitUntil(timeout: timeout) { try await store.group(key: key)?.state == state }
    }
}

extension [EventRecord] {
    /// Events of one type.
    func ofType(_ type: EventType) -> [EventRecord] { filter { $0.type == type.rawValue } }

    /// Events of one job.
    func forJob(_ id: JobID) -> [EventRecord] { filter { $0.jobID == id } }

    /// The sequence number of the only event of `type` for `job`, or `nil` when there is not exactly one.
    func onlySeq(_ type: EventType, job: JobID) -> Int64? {
        let matches = filter { $0.type == type.rawValue && $0.jobID == job }
        return matches.count == 1 ? matches[0].seq : nil
    }
}

/// Runs SQL on a database file through a plain SQLite connection, outside Acty.
func executeSQL(_ path: String, _ sql: String) throws {
    var configuration = Configuration()
    configuration.busyMode = .timeout(10)
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    try queue.write { try $0.execute(sql: sql) }
    try queue.close()
}

/// The bytes of a file, or `nil` when it does not exist.
func fileBytes(_ path: String) -> Data? {
    FileManager.default.contents(atPath: path)
}


/// One gate per group key: the executor `keyed` holds a job of a group whose key has a closed gate until it opens,
/// fails jobs whose payload has `"fail": true`, and returns the payload otherwise.
final class KeyedGates: Sendable {
    private let gates = Locked<[String: Gate]>([:])

    /// Holds the jobs of group `key` until ``open(_:)``.
    func close(_ key: String) { gates.withLock { $0[key] = Gate() } }
    /// Lets the jobs of group `key` finish.
    func open(_ key: String) { gates.withLock { $0[key] }?.open() }

    var executor: ClosureExecutor {
        ClosureExecutor(name: "keyed") { [self] job in
            if let gate = gates.withLock({ $0[job.groupKey] }) { try await gate.wait() }
            if job.payload["fail"]?.boolValue == true { throw PlannedFailure("job \(job.id) of '\(job.groupKey)' was asked to fail") }
            return job.payload
        }
    }
}
