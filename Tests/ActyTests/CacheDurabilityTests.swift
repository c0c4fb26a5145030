import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Cache entries live in the database: they outlive an engine, and engines sharing a file create each once.
@Suite(.timeLimit(.minutes(1)))
struct CacheDurabilityTests {
    @Test func aRestartedEngineReusesTheEntry() async throws {
        let dir = TemporaryDirectory()
        let firstProvider = ScriptedCacheProvider()
        let first = try await ActyEngine(database: .file(dir.file()), executors: [cacheProbe], cacheProvider: firstProvider)
        let before = try await first.submitCachedGroup("before", cacheKey: "k", prefixID: "p", tenant: "acme").boundedResults()
        #expect(before.providerRefs == ["scripted:acme:p:1"])
        #expect(firstProvider.createCount == 1)
        try await first.boundedShutdown()

        let secondProvider = ScriptedCacheProvider()
        let second = try await ActyEngine(database: .file(dir.file()), executors: [cacheProbe], cacheProvider: secondProvider)
        let submission = try await second.submitCachedGroup("after", cacheKey: "k", prefixID: "p", tenant: "acme", followers: 3)
        let after = try await submission.boundedResults()
        #expect(after.allSatisfy { $0.status == .succeeded })
        #expect(after.providerRefs == ["scripted:acme:p:1"])
        #expect(secondProvider.createCount == 0)
        #expect(secondProvider.invalidated.isEmpty)
        #expect(try await second.cacheEntry("k")?.hits == 1)
        let events = try await second.allEvents()
        #expect(events.ofType(.cacheCreated).count == 1)
        #expect(try events.cacheData(.cacheHit) == [["key": "k", "provider": "scripted"]])
        #expect(events.ofType(.cacheHit).first?.worker == second.workerID)
        #expect(events.ofType(.cacheHit).first?.groupID == submission.groupID)
        try await second.boundedShutdown()
    }

    @Test func twoEnginesOnOneFileCreateTheEntryOnce() async throws {
        let dir = TemporaryDirectory()
        // A slow creation keeps the window in which both engines' primers look at the entry wide open.
        let providers = [
            ScriptedCacheProvider { _ in try await Task.sleep(for: .milliseconds(100)) },
            ScriptedCacheProvider { _ in try await Task.sleep(for: .milliseconds(100)) },
        ]
        let configuration = EngineConfiguration(primerWorkers: 4, followerWorkers: 4, pollInterval: .milliseconds(20))
        var engines: [ActyEngine] = []
        for provider in providers {
            engines.append(try await ActyEngine(database: .file(dir.file()), configuration: configuration, executors: [cacheProbe], cacheProvider: provider))
        }
        #expect(engines[0].workerID != engines[1].workerID)
        let submissions = try await withThrowingTaskGroup(of: GroupSubmission.self) { group in
            for (name, engine) in zip(["a", "b"], engines) {
                for index in 0..<10 {
                    group.addTask { try await engine.submitCachedGroup("\(name)\(index)", cacheKey: "shared", prefixID: "p", followers: 2) }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(submissions.count == 20)
        var refs: Set<String> = []
        for submission in submissions {
            // Either engine may run a job: wait through handles that look in the database, since the handles
            // `submitGroup` returns only learn of jobs their own engine finished.
            let results = try await submission.jobs.asyncMap { try await engines[0].handle(for: $0.id).boundedResult() }
            #expect(results.allSatisfy { $0.status == .succeeded })
            refs.formUnion(results.providerRefs)
        }
        #expect(providers.map(\.createCount).reduce(0, +) == 1)
        #expect(refs.count == 1)
        #expect(refs.first?.hasPrefix("scripted:default:p:") == true)
        let entry = try #require(try await engines[0].cacheEntry("shared"))
        #expect(entry.hits == 19)
        let events = try await engines[0].allEvents()
        #expect(events.ofType(.cacheCreated).count == 1)
        #expect(events.ofType(.cacheHit).count == 19)
        // Both engines ran primers against the entry: the single flight held across two writers.
        #expect(Set(events.filter { $0.type.hasPrefix("cache_") }.compactMap(\.worker)) == Set(engines.map(\.workerID)))
        for engine in engines { try await engine.boundedShutdown() }
    }
}
