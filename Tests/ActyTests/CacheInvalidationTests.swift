import ActyTestSupport
@testable import Acty
import ActyStore
import GRDB
import Foundation
import Testing

/// How a cache entry stops being used: another fingerprint, its time to live, an executor reporting it gone; and
/// how executors change its reference.
@Suite(.timeLimit(.minutes(1)))
struct CacheInvalidationTests {
    private func makeCacheEngine(
        _ dir: TemporaryDirectory, _ provider: ScriptedCacheProvider, _ configuration: EngineConfiguration = EngineConfiguration(),
        executors: [any Executor] = [cacheProbe]
    ) async throws -> ActyEngine {
        try await ActyEngine(database: .file(dir.file()), configuration: configuration, executors: executors, cacheProvider: provider)
    }

    @Test(arguments: [("p2", "acme"), ("p1", "globex")])
    func aChangedFingerprintReplacesTheEntry(prefixID: String, tenant: String) async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let engine = try await makeCacheEngine(dir, provider)
        let first = try await engine.submitCachedGroup("first", cacheKey: "k", prefixID: "p1", tenant: "acme").boundedResults()
        #expect(first.providerRefs == ["scripted:acme:p1:1"])

        let second = try await engine.submitCachedGroup("second", cacheKey: "k", prefixID: prefixID, tenant: tenant, followers: 2)
        let results = try await second.boundedResults()
        #expect(results.allSatisfy { $0.status == .succeeded })
        #expect(results.providerRefs == ["scripted:\(tenant):\(prefixID):2"])
        #expect(provider.createCount == 2)
        #expect(provider.invalidated == ["scripted:acme:p1:1"])
        let entry = try #require(try await engine.cacheEntry("k"))
        #expect(entry.state == "ready")
        #expect(entry.fingerprint == "\(tenant):\(prefixID)")
        #expect(entry.providerRef == "scripted:\(tenant):\(prefixID):2")
        #expect(entry.hits == 0)

        let events = try await engine.allEvents()
        #expect(try events.cacheData(.cacheInvalidated) == [["key": "k", "provider": "scripted", "reason": "fingerprint_changed"]])
        #expect(events.ofType(.cacheInvalidated).map(\.groupID) == [second.groupID])
        #expect(events.ofType(.cacheCreated).count == 2)
        #expect(events.ofType(.cacheHit).isEmpty)
        try await engine.boundedShutdown()
    }

    @Test func anEntryWithinItsTimeToLiveIsReused() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let engine = try await makeCacheEngine(dir, provider, EngineConfiguration(cacheTimeToLive: .seconds(30)))
        var refs: Set<String> = []
        for index in 0..<3 {
            refs.formUnion(try await engine.submitCachedGroup("g\(index)", cacheKey: "k", prefixID: "p").boundedResults().providerRefs)
        }
        #expect(refs == ["scripted:default:p:1"])
        #expect(provider.createCount == 1)
        #expect(provider.invalidated.isEmpty)
        let entry = try #require(try await engine.cacheEntry("k"))
        #expect(entry.hits == 2)
        let expiresAt = try #require(entry.expiresAt)
        #expect(expiresAt > entry.createdAt + 29 && expiresAt <= entry.createdAt + 30.5)
        let events = try await engine.allEvents()
        #expect(events.ofType(.cacheHit).count == 2)
        #expect(events.ofType(.cacheExpired).isEmpty)
        try await engine.boundedShutdown()
    }

    @Test func anExpiredEntryIsReleasedAndCreatedAgain() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let engine = try await makeCacheEngine(dir, provider, EngineConfiguration(cacheTimeToLive: .milliseconds(300)))
        let first = try await engine.submitCachedGroup("first", cacheKey: "k", prefixID: "p").boundedResults()
        #expect(first.providerRefs == ["scripted:default:p:1"])
        let created = try #require(try await engine.cacheEntry("k"))
        let expiresAt = try #require(created.expiresAt)
        #expect(expiresAt > created.createdAt && expiresAt <= created.createdAt + 0.31)

        try await require("the entry to expire", timeout: .seconds(5)) { Date().timeIntervalSince1970 > expiresAt + 0.01 }
        let second = try await engine.submitCachedGroup("second", cacheKey: "k", prefixID: "p", followers: 2)
        let results = try await second.boundedResults()
        #expect(results.providerRefs == ["scripted:default:p:2"])
        #expect(provider.createCount == 2)
        #expect(provider.invalidated == ["scripted:default:p:1"])
        let recreated = try #require(try await engine.cacheEntry("k"))
        #expect(recreated.state == "ready")
        #expect(recreated.hits == 0)
        #expect(try #require(recreated.expiresAt) > expiresAt)

        let events = try await engine.allEvents()
        #expect(try events.cacheData(.cacheExpired) == [["key": "k", "provider": "scripted"]])
        #expect(events.ofType(.cacheExpired).map(\.groupID) == [second.groupID])
        #expect(events.ofType(.cacheHit).isEmpty)
        #expect(events.ofType(.cacheCreated).count == 2)
        try await engine.boundedShutdown()
    }

    @Test func anExecutorReportingTheSessionGoneInvalidatesTheEntry() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let engine = try await makeCacheEngine(dir, provider)
        let broken = try await engine.submitGroup(
            "broken", primer: ["prefix_id": "p"], followers: [["invalid": "session gone"]], cacheKey: "k"
        )
        let primer = try await #require(broken.primer).boundedResult()
        #expect(primer.output?["provider_ref"]?.stringValue == "scripted:default:p:1")
        let follower = try await broken.followers[0].boundedResult()
        #expect(follower.status == .failed)
        #expect(follower.error?.type == "CacheInvalidError")
        #expect(follower.error?.message.contains("session gone") == true)

        let invalid = try #require(try await engine.cacheEntry("k"))
        #expect(invalid.state == "invalid")
        #expect(provider.invalidated == ["scripted:default:p:1"])
        let events = try await engine.allEvents()
        #expect(try events.cacheData(.cacheInvalidated) == [["key": "k", "provider": "scripted", "reason": "session gone"]])
        #expect(events.ofType(.cacheInvalidated).map(\.groupID) == [broken.groupID])

        let next = try await engine.submitCachedGroup("next", cacheKey: "k", prefixID: "p").boundedResults()
        #expect(next.allSatisfy { $0.status == .succeeded })
        #expect(next.providerRefs == ["scripted:default:p:2"])
        #expect(provider.createCount == 2)
        // The invalid entry's state was released once, when it was reported; the new creation does not release it again.
        #expect(provider.invalidated == ["scripted:default:p:1"])
        #expect(try await engine.cacheEntry("k")?.state == "ready")
        try await engine.boundedShutdown()
    }

    @Test func aReferenceThePrimerAttachesReachesItsFollowersAndLaterGroups() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let attacher = ClosureExecutor(name: "attacher") { job in
            var attached: JSONValue = .null
            if job.role == .primer, let cache = job.cache {
                attached = .bool(try await cache.attach(providerRef: "session-42"))
            }
            return ["attached": attached, "provider_ref": job.cache?.providerRef.map(JSONValue.string) ?? .null]
        }
        let engine = try await makeCacheEngine(dir, provider, executors: [attacher])
        let submission = try await engine.submitCachedGroup("g", cacheKey: "k", prefixID: "p", followers: 3)
        let primer = try await #require(submission.primer).boundedResult()
        #expect(primer.output?["attached"]?.boolValue == true)
        #expect(primer.output?["provider_ref"]?.stringValue == "scripted:default:p:1")
        let followers = try await submission.followers.asyncMap { try await $0.boundedResult() }
        #expect(followers.providerRefs == ["session-42"])
        #expect(try await engine.cacheEntry("k")?.providerRef == "session-42")

        // A later group with the key hits the entry and gets the attached reference (its primer re-attaches the
        // same reference, which succeeds).
        let later = try await engine.submitCachedGroup("later", cacheKey: "k", prefixID: "p").boundedResults()
        #expect(later.providerRefs == ["session-42"])
        #expect(later.first?.output?["attached"]?.boolValue == true)
        #expect(provider.createCount == 1)
        try await engine.boundedShutdown()
    }

    @Test func aReferenceAFollowerAttachesReachesTheFollowersClaimedAfterIt() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let attacher = ClosureExecutor(name: "attacher") { job in
            var attached: JSONValue = .null
            if job.followerIndex == 0, let cache = job.cache {
                attached = .bool(try await cache.attach(providerRef: "session-from-follower-0"))
            }
            return ["attached": attached, "provider_ref": job.cache?.providerRef.map(JSONValue.string) ?? .null]
        }
        // One worker per pool and no stealing: the followers run one after the other, in order.
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 1, workStealing: false)
        let engine = try await makeCacheEngine(dir, provider, configuration, executors: [attacher])
        let submission = try await engine.submitCachedGroup("g", cacheKey: "k", prefixID: "p", followers: 3)
        let results = try await submission.boundedResults()
        #expect(results.map { $0.output?["provider_ref"]?.stringValue } == [
            "scripted:default:p:1", "scripted:default:p:1", "session-from-follower-0", "session-from-follower-0",
        ])
        #expect(results[1].output?["attached"]?.boolValue == true)
        try await engine.boundedShutdown()
    }

    @Test func attachingWithoutReplaceFailsOnceSomeoneElseChangedTheReference() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let box = EngineBox()
        let attacher = ClosureExecutor(name: "attacher") { job in
            guard job.role == .primer, let cache = job.cache, let engine = box.engine else {
                return ["provider_ref": job.cache?.providerRef.map(JSONValue.string) ?? .null]
            }
            // Another process replaces the reference behind this job's back.
            try await engine.writeSQL("UPDATE cache_entries SET provider_ref = 'changed-elsewhere' WHERE key = ?", [cache.key])
            let withoutReplace = try await cache.attach(providerRef: "mine")
            let withReplace = try await cache.attach(providerRef: "mine", replace: true)
            let sameAgain = try await cache.attach(providerRef: "mine")
            return [
                "results": [.bool(withoutReplace), .bool(withReplace), .bool(sameAgain)],
                "provider_ref": cache.providerRef.map(JSONValue.string) ?? .null,
            ]
        }
        let engine = try await makeCacheEngine(dir, provider, executors: [attacher])
        box.engine = engine
        let submission = try await engine.submitCachedGroup("g", cacheKey: "k", prefixID: "p", followers: 2)
        let primer = try await #require(submission.primer).boundedResult()
        #expect(primer.status == .succeeded)
        #expect(primer.output?["results"] == [false, true, true])
        let followers = try await submission.followers.asyncMap { try await $0.boundedResult() }
        #expect(followers.providerRefs == ["mine"])
        #expect(try await engine.cacheEntry("k")?.providerRef == "mine")
        try await engine.boundedShutdown()
    }

    /// Followers read the entry's reference when they are claimed, so a group whose entry another group replaced
    /// meanwhile (a different fingerprint for the same key) runs its remaining followers on the other group's state.
    @Test func followersKeepTheirGroupsReferenceWhenAnotherGroupReplacesTheEntry() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let hold = Gate()
        let holding = Recorder<JobID>()
        let executor = ClosureExecutor(name: "holding") { job in
            if job.payload["hold"]?.boolValue == true {
                holding.append(job.id)
                try await hold.wait()
            }
            return ["provider_ref": job.cache?.providerRef.map(JSONValue.string) ?? .null]
        }
        // One worker per pool, no stealing: while follower 0 holds the follower worker, follower 1 stays queued.
        let configuration = EngineConfiguration(primerWorkers: 1, followerWorkers: 1, workStealing: false)
        let engine = try await makeCacheEngine(dir, provider, configuration, executors: [executor])
        let first = try await engine.submitGroup(
            "first", primer: ["prefix_id": "p1"], followers: [["hold": true], ["agent": "late"]], cacheKey: "k"
        )
        try await require("follower 0 to hold the follower worker") { holding.count == 1 }
        let second = try await engine.submitCachedGroup("second", cacheKey: "k", prefixID: "p2", followers: 0).boundedResults()
        #expect(second.providerRefs == ["scripted:default:p2:2"])
        hold.open()

        let results = try await first.boundedResults()
        #expect(results.allSatisfy { $0.status == .succeeded })
        #expect(results[1].output?["provider_ref"] == "scripted:default:p1:1")
        // Followers run with the reference their group's primer ran with, whatever later groups did to the entry.
        #expect(results.providerRefs == ["scripted:default:p1:1"])
        try await engine.boundedShutdown()
    }
}
