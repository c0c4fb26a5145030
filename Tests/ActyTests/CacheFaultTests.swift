import ActyTestSupport
@testable import Acty
@testable import ActyStore
import GRDB
import Foundation
import Testing

/// Cache creation that fails, and creators that die or are still at work.
@Suite(.timeLimit(.minutes(1)))
struct CacheFaultTests {
    private func makeCacheEngine(
        _ dir: TemporaryDirectory, _ provider: ScriptedCacheProvider, _ configuration: EngineConfiguration = EngineConfiguration()
    ) async throws -> ActyEngine {
        try await ActyEngine(database: .file(dir.file()), configuration: configuration, executors: [cacheProbe], cacheProvider: provider)
    }

    @Test func aFailingCreateFailsThePrimerAttemptAndTheRetryCreates() async throws {
        let dir = TemporaryDirectory()
        let box = EngineBox()
        let secondCreate = Gate()
        let seenBySecondCreate = Recorder<CacheEntrySnapshot?>()
        let provider = ScriptedCacheProvider { number in
            if number == 1 { throw ProviderUnavailable() }
            if number == 2, let engine = box.engine {
                seenBySecondCreate.append(try await engine.cacheEntry("k"))
                try await secondCreate.wait()
            }
        }
        let engine = try await makeCacheEngine(dir, provider)
        box.engine = engine
        let options = GroupOptions(retryPolicy: RetryPolicy(maxAttempts: 2, initialDelay: .milliseconds(10)))
        let submission = try await engine.submitCachedGroup("g", cacheKey: "k", prefixID: "p", followers: 2, options: options)
        let primerID = try #require(submission.primer).id

        try await require("the retry to create the entry again") { seenBySecondCreate.count == 1 }
        // The failed attempt left nothing usable behind: the retry found no ready entry and creates it itself.
        let during = try #require(seenBySecondCreate.values[0])
        #expect(during.state == "creating")
        #expect(during.providerRef == nil)
        let attempts = try await engine.store.attempts(of: primerID)
        #expect(attempts.map(\.outcome) == ["failed"])
        #expect(attempts.first?.error?.contains("refused to create") == true)
        #expect(try await engine.store.jobs(inGroup: submission.groupID).filter { $0.role == .follower }.allSatisfy { $0.state == .blocked })
        #expect(try await engine.allEvents().ofType(.cacheCreated).isEmpty)

        secondCreate.open()
        let results = try await submission.boundedResults()
        #expect(results.allSatisfy { $0.status == .succeeded })
        #expect(results[0].attempts == 2)
        #expect(results.providerRefs == ["scripted:default:p:2"])
        #expect(provider.createCount == 2)
        let entry = try #require(try await engine.cacheEntry("k"))
        #expect(entry.state == "ready")
        #expect(entry.owner == nil)
        #expect(try await engine.allEvents().ofType(.cacheCreated).count == 1)
        try await engine.boundedShutdown()
    }

    @Test func aFailingCreateWithoutRetriesFailsTheGroupAndLeavesNoEntry() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider { _ in throw ProviderUnavailable() }
        let engine = try await makeCacheEngine(dir, provider)
        let submission = try await engine.submitCachedGroup("g", cacheKey: "k", prefixID: "p", followers: 2)
        let results = try await submission.boundedResults()
        #expect(results[0].status == .failed)
        #expect(results[0].attempts == 1)
        #expect(results[0].error?.message.contains("refused to create") == true)
        #expect(results.dropFirst().allSatisfy { $0.status == .cancelled })
        #expect(try await engine.waitForGroup("g", state: .failed))
        #expect(provider.createCount == 1)
        #expect(try await engine.cacheEntryCount() == 0)
        let events = try await engine.allEvents()
        #expect(events.ofType(.cacheCreated).isEmpty)
        #expect(events.ofType(.cacheHit).isEmpty)
        try await engine.boundedShutdown()
    }

    @Test func aPrimerTakesOverACreationWhoseCreatorDied() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let engine = try await makeCacheEngine(dir, provider)
        let now = Date().timeIntervalSince1970
        try await engine.writeSQL(
            """
            INSERT INTO cache_entries (key, provider, fingerprint, state, owner, lease_until, created_at, updated_at)
            VALUES ('k', 'scripted', 'default:p', 'creating', 'wdead-1:999', ?, ?, ?)
            """,
            [now - 60, now - 120, now - 120]
        )
        let results = try await engine.submitCachedGroup("g", cacheKey: "k", prefixID: "p", followers: 2).boundedResults()
        #expect(results.allSatisfy { $0.status == .succeeded })
        #expect(results.providerRefs == ["scripted:default:p:1"])
        #expect(provider.createCount == 1)
        let entry = try #require(try await engine.cacheEntry("k"))
        #expect(entry.state == "ready")
        #expect(entry.owner == nil)
        #expect(entry.createdAt > now - 1)
        #expect(try await engine.allEvents().ofType(.cacheCreated).count == 1)
        try await engine.boundedShutdown()
    }

    @Test func primersWaitForALiveCreatorAndHitAsSoonAsItsEntryIsReady() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let engine = try await makeCacheEngine(dir, provider, EngineConfiguration(primerWorkers: 3, followerWorkers: 3))
        let now = Date().timeIntervalSince1970
        try await engine.writeSQL(
            """
            INSERT INTO cache_entries (key, provider, fingerprint, state, owner, lease_until, created_at, updated_at)
            VALUES ('k', 'scripted', 'default:p', 'creating', 'wdead-1:999', ?, ?, ?)
            """,
            [now + 600, now, now]
        )
        var submissions: [GroupSubmission] = []
        for index in 0..<3 {
            submissions.append(try await engine.submitCachedGroup("g\(index)", cacheKey: "k", prefixID: "p"))
        }
        try await require("the three primers to be claimed") { try await engine.runningPrimerCount() == 3 }
        // While the other creator's lease lasts, nobody creates and nothing finishes (a few polls' worth of time).
        let moved = try await waitUntil(timeout: .milliseconds(200)) {
            if provider.createCount > 0 { return true }
            return try await engine.store.allJobs().contains { $0.state != .running && $0.state != .blocked }
        }
        #expect(!moved)
        #expect(try await engine.cacheEntry("k")?.owner == "wdead-1:999")

        try await engine.writeSQL(
            "UPDATE cache_entries SET state = 'ready', provider_ref = 'external-session', owner = NULL, lease_until = NULL WHERE key = 'k'"
        )
        let readyAt = ContinuousClock.now
        var refs: Set<String> = []
        for submission in submissions {
            let results = try await submission.boundedResults()
            #expect(results.allSatisfy { $0.status == .succeeded })
            refs.formUnion(results.providerRefs)
        }
        #expect(ContinuousClock.now - readyAt < .seconds(60), "the waiters did not wait for the creator's 10-minute lease")
        #expect(refs == ["external-session"])
        #expect(provider.createCount == 0)
        #expect(try await engine.cacheEntry("k")?.hits == 3)
        let events = try await engine.allEvents()
        #expect(events.ofType(.cacheHit).count == 3)
        #expect(events.ofType(.cacheCreated).isEmpty)
        try await engine.boundedShutdown()
    }

    @Test func aCreationOutlastingItsLeaseKeepsItThroughHeartbeats() async throws {
        let dir = TemporaryDirectory()
        // A 3 s lease renewed every second: a loaded machine starved the heartbeat of a 1 s lease past it.
        let provider = ScriptedCacheProvider { _ in try await Task.sleep(for: .seconds(5)) }
        let configuration = EngineConfiguration(primerWorkers: 2, followerWorkers: 2, leaseDuration: .seconds(3))
        let engine = try await makeCacheEngine(dir, provider, configuration)
        let first = try await engine.submitCachedGroup("first", cacheKey: "k", prefixID: "p")
        try await require("the creation to start") { provider.createCount == 1 }
        let leaseAtStart = try await engine.cacheLeaseUntil("k")
        let second = try await engine.submitCachedGroup("second", cacheKey: "k", prefixID: "p")

        // The creator's heartbeat renews the `creating` lease, so the waiting primer never takes the creation over.
        try await require("the lease to be renewed", timeout: .seconds(10)) { try await engine.cacheLeaseUntil("k") ?? 0 > (leaseAtStart ?? 0) }
        var refs: Set<String> = []
        for submission in [first, second] { refs.formUnion(try await submission.boundedResults().providerRefs) }
        #expect(refs == ["scripted:default:p:1"])
        #expect(provider.createCount == 1)
        #expect(try await engine.allEvents().ofType(.cacheHit).count == 1)
        try await engine.boundedShutdown()
    }

    @Test func aPrimerWaitingForAnotherCreatorAtShutdownIsHandedBack() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let engine = try await makeCacheEngine(dir, provider, EngineConfiguration(gracefulShutdownTimeout: .milliseconds(100)))
        let now = Date().timeIntervalSince1970
        try await engine.writeSQL(
            """
            INSERT INTO cache_entries (key, provider, fingerprint, state, owner, lease_until, created_at, updated_at)
            VALUES ('k', 'scripted', 'default:p', 'creating', 'wdead-1:999', ?, ?, ?)
            """,
            [now + 60, now, now]
        )
        let submission = try await engine.submitCachedGroup("g", cacheKey: "k", prefixID: "p")
        let primerID = try #require(submission.primer).id
        try await require("the primer to be claimed") { try await engine.runningPrimerCount() == 1 }
        try await engine.boundedShutdown()

        // Like an executor cancelled at shutdown, the wait ends without using up the attempt or failing the group.
        let store = try Store(.file(dir.file()))
        defer { try? store.close() }
        let primer = try #require(try await store.job(primerID))
        #expect(primer.state == .ready)
        #expect(try await store.group(key: "g")?.state == .closed)
        #expect(try await store.attempts(of: primerID).allSatisfy { $0.outcome != "failed" })
    }

    @Test func aCreationCancelledAtShutdownIsHandedBackAndLeavesNoEntry() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider { _ in try await Gate().wait(timeout: .seconds(30)) }
        let engine = try await makeCacheEngine(dir, provider, EngineConfiguration(gracefulShutdownTimeout: .milliseconds(100)))
        let submission = try await engine.submitCachedGroup("g", cacheKey: "k", prefixID: "p")
        let primerID = try #require(submission.primer).id
        try await require("the creation to start") { provider.createCount == 1 }
        try await engine.boundedShutdown()

        let store = try Store(.file(dir.file()))
        defer { try? store.close() }
        #expect(try await store.job(primerID)?.state == .ready)
        #expect(try await store.group(key: "g")?.state == .closed)
        // No `creating` row is left leased to the stopped engine: the next one would wait for its lease to run out.
        let entries = try await store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM cache_entries") ?? 0 }
        #expect(entries == 0)
    }
}
