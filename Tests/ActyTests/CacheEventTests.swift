import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// The events of a cache entry's life, and what jobs see of a cache key when there is no provider.
@Suite(.timeLimit(.minutes(1)))
struct CacheEventTests {
    @Test func cacheEventsNameTheirKeyAndProvider() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider(name: "session-store")
        var groups: [GroupID] = []

        let first = try await ActyEngine(database: .file(dir.file()), executors: [cacheProbe], cacheProvider: provider)
        for (key, prefixID) in [("created", "p"), ("hit", "p"), ("changed", "q")] {
            let submission = try await first.submitCachedGroup(key, cacheKey: "k", prefixID: prefixID)
            _ = try await submission.boundedResults()
            groups.append(submission.groupID)
        }
        let broken = try await first.submitGroup("broken", primer: ["prefix_id": "q"], followers: [["invalid": "gone"]], cacheKey: "k")
        _ = try await broken.boundedResults()
        groups.append(broken.groupID)
        try await first.boundedShutdown()

        // A second engine with a time to live: it recreates the invalid entry, which then expires.
        let second = try await ActyEngine(
            database: .file(dir.file()), configuration: EngineConfiguration(cacheTimeToLive: .milliseconds(300)), executors: [cacheProbe],
            cacheProvider: provider
        )
        let recreated = try await second.submitCachedGroup("recreated", cacheKey: "k", prefixID: "q")
        _ = try await recreated.boundedResults()
        groups.append(recreated.groupID)
        let expiresAt = try #require(try await second.cacheEntry("k")?.expiresAt)
        try await require("the entry to expire", timeout: .seconds(5)) { Date().timeIntervalSince1970 > expiresAt + 0.01 }
        let expired = try await second.submitCachedGroup("expired", cacheKey: "k", prefixID: "q")
        _ = try await expired.boundedResults()
        groups.append(expired.groupID)

        let events = try await second.allEvents().filter { $0.type.hasPrefix("cache_") }
        #expect(events.map(\.type) == [
            "cache_created",
            "cache_hit",
            "cache_invalidated", "cache_created",
            "cache_hit", "cache_invalidated",
            "cache_created",
            "cache_expired", "cache_created",
        ])
        #expect(events.map(\.groupID) == [groups[0], groups[1], groups[2], groups[2], groups[3], groups[3], groups[4], groups[5], groups[5]])
        // Each names the engine that wrote it (its worker id), like every other event.
        #expect(events.map(\.worker) == Array(repeating: first.workerID, count: 6) + Array(repeating: second.workerID, count: 3))
        for event in events {
            let data = try JSONValue(jsonString: event.data ?? "null")
            #expect(data["key"] == "k", "\(event.type) names its key")
            #expect(data["provider"] == "session-store", "\(event.type) names its provider")
        }
        let reasons = try events.filter { $0.type == "cache_invalidated" }.map { try JSONValue(jsonString: $0.data ?? "null")["reason"] }
        #expect(reasons == ["fingerprint_changed", "gone"])
        #expect(provider.createCount == 4)
        try await second.boundedShutdown()
    }

    @Test func jobsSeeTheCacheKeyWithoutAProvider() async throws {
        let dir = TemporaryDirectory()
        let engine = try await ActyEngine(database: .file(dir.file()), executors: [cacheProbe])
        let submission = try await engine.submitCachedGroup("g", cacheKey: "tenant:acme:playbook", prefixID: "p", tenant: "acme", followers: 2)
        let results = try await submission.boundedResults()
        #expect(results.count == 3)
        for result in results {
            #expect(result.status == .succeeded)
            #expect(result.output?["key"] == "tenant:acme:playbook")
            #expect(result.output?["provider_ref"] == .null)
        }
        #expect(try await engine.cacheEntryCount() == 0)
        #expect(try await engine.allEvents().filter { $0.type.hasPrefix("cache_") }.isEmpty)
        try await engine.boundedShutdown()
    }

    @Test func jobsOfAGroupWithoutACacheKeyHaveNoCache() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider()
        let engine = try await ActyEngine(database: .file(dir.file()), executors: [cacheProbe], cacheProvider: provider)
        let results = try await engine.submitGroup("g", primer: ["prefix_id": "p"], followers: [["agent": "a"]]).boundedResults()
        #expect(results.allSatisfy { $0.status == .succeeded && $0.output?["key"] == .null && $0.output?["provider_ref"] == .null })
        #expect(provider.createCount == 0)
        #expect(try await engine.cacheEntryCount() == 0)
        try await engine.boundedShutdown()
    }

    @Test func anImplicitEntryWithoutAReferenceIsSharedToo() async throws {
        let dir = TemporaryDirectory()
        let provider = ScriptedCacheProvider(returnsReference: false)
        let engine = try await ActyEngine(database: .file(dir.file()), executors: [cacheProbe], cacheProvider: provider)
        for index in 0..<3 {
            let results = try await engine.submitCachedGroup("g\(index)", cacheKey: "k", prefixID: "p", followers: 2).boundedResults()
            #expect(results.allSatisfy { $0.status == .succeeded && $0.output?["key"] == "k" })
            #expect(results.providerRefs == ["<nil>"])
        }
        #expect(provider.createCount == 1)
        let entry = try #require(try await engine.cacheEntry("k"))
        #expect(entry.state == "ready")
        #expect(entry.providerRef == nil)
        #expect(entry.hits == 2)
        try await engine.boundedShutdown()
    }
}
