import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB

/// A cache provider whose `create` runs a hook first (to fail, or to wait for a gate), counting its calls.
///
/// Its fingerprint is the demo provider's (`<tenant>:<prefix_id>`); the reference of the n-th creation is
/// `<name>:<fingerprint>:<n>`, or `nil` when it caches implicitly (`returnsReference: false`).
final class ScriptedCacheProvider: CacheProvider {
    let name: String
    private let calls = Locked<(create: Int, invalidate: [String])>((0, []))
    private let returnsReference: Bool
    private let beforeCreate: @Sendable (_ number: Int) async throws -> Void

    init(
        name: String = "scripted", returnsReference: Bool = true,
        beforeCreate: @escaping @Sendable (_ number: Int) async throws -> Void = { _ in }
    ) {
        self.name = name
        self.returnsReference = returnsReference
        self.beforeCreate = beforeCreate
    }

    var createCount: Int { calls.withLock { $0.create } }
    var invalidated: [String] { calls.withLock { $0.invalidate } }

    func fingerprint(primer: JSONValue, context: JSONValue?) -> String {
        "\(context?["tenant"]?.stringValue ?? "default"):\(primer["prefix_id"]?.stringValue ?? "")"
    }

    func create(primer: JSONValue, context: JSONValue?) async throws -> String? {
        let number = calls.withLock { calls in
            calls.create += 1
            return calls.create
        }
        try await beforeCreate(number)
        guard returnsReference else { return nil }
        return "\(name):\(fingerprint(primer: primer, context: context)):\(number)"
    }

    func invalidate(_ providerRef: String) async throws {
        calls.withLock { $0.invalidate.append(providerRef) }
    }
}

/// The error a scripted provider's `create` throws.
struct ProviderUnavailable: Error, CustomStringConvertible {
    var description: String { "the provider refused to create a session" }
}

/// Returns the cache key and provider reference each job saw; throws ``CacheInvalidError`` with the payload's
/// `invalid` reason when it has one.
let cacheProbe = ClosureExecutor(name: "cache-probe") { job in
    if let reason = job.payload["invalid"]?.stringValue { throw CacheInvalidError(reason) }
    return [
        "key": job.cache.map { .string($0.key) } ?? .null,
        "provider_ref": job.cache?.providerRef.map(JSONValue.string) ?? .null,
    ]
}

/// A row of `cache_entries`, as the tests read it.
struct CacheEntrySnapshot: Sendable {
    var provider: String
    var fingerprint: String
    var providerRef: String?
    var state: String
    var owner: String?
    var createdAt: Double
    var expiresAt: Double?
    var hits: Int
}

extension ActyEngine {
    /// The `cache_entries` row of `key`, or `nil`.
    func cacheEntry(_ key: String) async throws -> CacheEntrySnapshot? {
        try await store.read { db in
            try Row.fetchOne(
                db, sql: "SELECT provider, fingerprint, provider_ref, state, owner, created_at, expires_at, hits FROM cache_entries WHERE key = ?",
                arguments: [key]
            ).map {
                CacheEntrySnapshot(
                    provider: $0[0], fingerprint: $0[1], providerRef: $0[2], state: $0[3], owner: $0[4], createdAt: $0[5],
                    expiresAt: $0[6], hits: $0[7]
                )
            }
        }
    }

    /// The `lease_until` of the entry of `key`, while it is being created.
    func cacheLeaseUntil(_ key: String) async throws -> Double? {
        try await store.read { try Double.fetchOne($0, sql: "SELECT lease_until FROM cache_entries WHERE key = ?", arguments: [key]) }
    }

    /// How many rows `cache_entries` has.
    func cacheEntryCount() async throws -> Int {
        try await store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM cache_entries") ?? 0 }
    }

    /// How many primers are running now.
    func runningPrimerCount() async throws -> Int {
        try await store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM jobs WHERE role = 'primer' AND state = 'running'") ?? 0 }
    }

    /// Runs SQL on the engine's own database connection, as another process's writer would.
    func writeSQL(_ sql: String, _ arguments: StatementArguments = StatementArguments()) async throws {
        try await store.database.write { try $0.execute(sql: sql, arguments: arguments) }
    }

    /// Submits a group with a primer for `prefixID` and `followers` followers, all sharing `cacheKey`.
    func submitCachedGroup(
        _ key: String, cacheKey: String, prefixID: String, tenant: String? = nil, followers: Int = 1,
        followerPayload: JSONValue = ["agent": "follower"], options: GroupOptions = GroupOptions()
    ) async throws -> GroupSubmission {
        try await submitGroup(
            key, primer: ["agent": "primer", "prefix_id": .string(prefixID)], followers: Array(repeating: followerPayload, count: followers),
            cacheKey: cacheKey, cacheContext: tenant.map { ["tenant": .string($0)] }, options: options
        )
    }
}

extension GroupSubmission {
    /// The results of every job, primer first, each bounded in time.
    func boundedResults() async throws -> [JobResult] {
        try await jobs.asyncMap { try await $0.boundedResult() }
    }
}

extension [JobResult] {
    /// The distinct provider references the jobs reported (`"<nil>"` for none).
    var providerRefs: Set<String> {
        Set(map { $0.output?["provider_ref"]?.stringValue ?? "<nil>" })
    }
}

extension [EventRecord] {
    /// The parsed `data` of every event of `type`, oldest first.
    func cacheData(_ type: EventType) throws -> [JSONValue] {
        try ofType(type).map { try JSONValue(jsonString: $0.data ?? "null") }
    }
}
