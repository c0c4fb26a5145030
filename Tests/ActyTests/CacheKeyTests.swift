import ActyTestSupport
@testable import Acty
import ActyStore
import Testing

/// Groups carry their cache key and context to every job, ahead of the cache registry.
@Suite(.timeLimit(.minutes(1)))
struct CacheKeyTests {
    @Test func everyJobOfAGroupSeesItsCacheKeyAndTheContextIsStored() async throws {
        let dir = TemporaryDirectory()
        let seen = Locked<[String?]>([])
        let executor = ClosureExecutor(name: "cache-aware") { job in
            seen.withLock { $0.append(job.cache?.key) }
            return .null
        }
        let engine = try await makeEngine(dir, executors: [executor])
        let submission = try await engine.submitGroup(
            "cached", primer: ["p": 1], followers: [["f": 1], ["f": 2]],
            cacheKey: "tenant:acme:playbook-v3", cacheContext: ["tenant": "acme"]
        )
        for job in submission.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        #expect(seen.withLock { $0 } == Array(repeating: "tenant:acme:playbook-v3", count: 3))
        let group = try #require(try await engine.store.group(key: "cached"))
        #expect(group.cacheKey == "tenant:acme:playbook-v3")
        #expect(group.cacheContext == #"{"tenant":"acme"}"#)

        try await engine.withOpenGroup("open-cached", cacheKey: "k2", cacheContext: ["a": 1]) { group in
            let primer = try await group.submitPrimer(["p": 1])
            #expect(try await primer.boundedResult().status == .succeeded)
        }
        #expect(try await engine.store.group(key: "open-cached")?.cacheKey == "k2")
        try await engine.boundedShutdown()
    }
}
