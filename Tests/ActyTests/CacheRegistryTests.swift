import ActyTestSupport
@testable import Acty
import ActyStore
import Testing

/// The seed README's prefix-cache provider, counting its calls.
final class DemoPrefixCacheProvider: CacheProvider {
    let name = "demo-prefix"
    private let calls = Locked<(create: Int, invalidate: [String])>((0, []))
    private let createDelay: Duration

    init(createDelay: Duration = .zero) {
        self.createDelay = createDelay
    }

    var createCount: Int { calls.withLock { $0.create } }
    var invalidated: [String] { calls.withLock { $0.invalidate } }

    func fingerprint(primer: JSONValue, context: JSONValue?) -> String {
        "\(context?["tenant"]?.stringValue ?? "default"):\(primer["prefix_id"]?.stringValue ?? "")"
    }

    func create(primer: JSONValue, context: JSONValue?) async throws -> String? {
        let count = calls.withLock { calls in
            calls.create += 1
            return calls.create
        }
        if createDelay > .zero { try await Task.sleep(for: createDelay) }
        return "prefix-cache:\(fingerprint(primer: primer, context: context)):\(count)"
    }

    func invalidate(_ providerRef: String) async throws {
        calls.withLock { $0.invalidate.append(providerRef) }
    }
}

/// Returns the provider reference each job saw.
let prefixAware = ClosureExecutor(name: "prefix-aware") { job in
    ["agent": job.payload["agent"] ?? .null, "provider_ref": job.cache?.providerRef.map(JSONValue.string) ?? .null]
}

@Suite(.timeLimit(.minutes(1)))
struct CacheRegistryTests {
    @Test func everyJobOfTheReadmeExampleSeesOneProviderRef() async throws {
        let dir = TemporaryDirectory()
        let provider = DemoPrefixCacheProvider()
        let engine = try await ActyEngine(database: .file(dir.file()), executors: [prefixAware], cacheProvider: provider)
        let (primer, followers) = try await engine.withOpenGroup(
            "support-playbook-review", cacheKey: "tenant:acme:support-playbook-v3", cacheContext: ["tenant": "acme"]
        ) { group in
            let primer = try await group.submitPrimer(["agent": "coordinator", "prefix_id": "support-playbook-v3"])
            var followers: [JobHandle] = []
            for agent in ["specialist:billing", "specialist:webhooks", "specialist:history"] {
                followers.append(try await group.addFollower(["agent": .string(agent), "prefix_id": "support-playbook-v3"]))
            }
            return (primer, followers)
        }
        var refs: Set<String> = []
        for handle in [primer] + followers {
            let result = try await handle.boundedResult()
            #expect(result.status == .succeeded)
            refs.insert(try #require(result.output?["provider_ref"]?.stringValue))
        }
        #expect(refs == ["prefix-cache:acme:support-playbook-v3:1"])
        #expect(provider.createCount == 1)
        let events = try await engine.allEvents().map(\.type)
        #expect(events.contains("cache_created"))
        try await engine.boundedShutdown()
    }

    @Test func fiftyConcurrentGroupsWithOneKeyCreateTheEntryOnce() async throws {
        let dir = TemporaryDirectory()
        let provider = DemoPrefixCacheProvider(createDelay: .milliseconds(50))
        let engine = try await ActyEngine(
            database: .file(dir.file()), configuration: EngineConfiguration(primerWorkers: 8, followerWorkers: 8),
            executors: [prefixAware], cacheProvider: provider
        )
        let submissions = try await withThrowingTaskGroup(of: GroupSubmission.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await engine.submitGroup(
                        "g\(index)", primer: ["agent": "coordinator", "prefix_id": "p"], followers: [["agent": "f"]],
                        cacheKey: "shared", cacheContext: ["tenant": "acme"]
                    )
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var refs: Set<String> = []
        for submission in submissions {
            for job in submission.jobs {
                let result = try await job.boundedResult()
                #expect(result.status == .succeeded)
                refs.insert(try #require(result.output?["provider_ref"]?.stringValue))
            }
        }
        #expect(provider.createCount == 1)
        #expect(refs.count == 1)
        let events = try await engine.allEvents().map(\.type)
        #expect(events.filter { $0 == "cache_created" }.count == 1)
        #expect(events.filter { $0 == "cache_hit" }.count == 49)
        try await engine.boundedShutdown()
    }

    @Test func skipsThePrimerOnACacheHitWhenConfigured() async throws {
        let dir = TemporaryDirectory()
        let provider = DemoPrefixCacheProvider()
        let engine = try await ActyEngine(
            database: .file(dir.file()), configuration: EngineConfiguration(runPrimerOnCacheHit: false),
            executors: [prefixAware], cacheProvider: provider
        )
        let first = try await engine.submitGroup("first", primer: ["prefix_id": "p"], followers: [["agent": "a"]], cacheKey: "k")
        for job in first.jobs { #expect(try await job.boundedResult().status == .succeeded) }
        let second = try await engine.submitGroup("second", primer: ["prefix_id": "p"], followers: [["agent": "b"]], cacheKey: "k")
        #expect(second.primer == nil)
        let follower = try await second.followers[0].boundedResult()
        #expect(follower.output?["provider_ref"]?.stringValue == "prefix-cache:default:p:1")
        #expect(try await engine.waitForGroup("second", state: .succeeded))
        let done = try #require(try await engine.allEvents().ofType(.groupDone).first { $0.groupID == second.groupID })
        #expect(try JSONValue(jsonString: done.data ?? "")["primer"] == "skipped")
        #expect(provider.createCount == 1)
        try await engine.boundedShutdown()
    }

    /// The README's cache example uses an open group: its primer is skipped on a cache hit too, and its handle
    /// reports the skip.
    @Test func skipsAnOpenGroupsPrimerOnACacheHitWhenConfigured() async throws {
        let dir = TemporaryDirectory()
        let provider = DemoPrefixCacheProvider()
        let primerRuns = Recorder<JobID>()
        let executor = ClosureExecutor(name: "prefix-aware") { job in
            if job.role == .primer { primerRuns.append(job.id) }
            return ["agent": job.payload["agent"] ?? .null, "provider_ref": job.cache?.providerRef.map(JSONValue.string) ?? .null]
        }
        let engine = try await ActyEngine(
            database: .file(dir.file()), configuration: EngineConfiguration(runPrimerOnCacheHit: false),
            executors: [executor], cacheProvider: provider
        )
        let context: JSONValue = ["tenant": "acme"]
        func review(_ key: String) async throws -> (primer: JobHandle, followers: [JobHandle]) {
            try await engine.withOpenGroup(key, cacheKey: "tenant:acme:playbook", cacheContext: context) { group in
                let early = try await group.addFollower(["agent": "early"])
                let primer = try await group.submitPrimer(["agent": "coordinator", "prefix_id": "playbook"])
                let late = try await group.addFollower(["agent": "late"])
                return (primer, [early, late])
            }
        }
        let first = try await review("first")
        #expect(try await first.primer.boundedResult().attempts == 1)
        for follower in first.followers { #expect(try await follower.boundedResult().status == .succeeded) }

        let second = try await review("second")
        let skipped = try await second.primer.boundedResult()
        #expect(skipped.status == .succeeded)
        #expect(skipped.attempts == 0)
        #expect(skipped.output == ["skipped": "cache_hit", "cache_key": "tenant:acme:playbook"])
        for follower in second.followers {
            let result = try await follower.boundedResult()
            #expect(result.output?["provider_ref"]?.stringValue == "prefix-cache:acme:playbook:1")
        }
        #expect(try await engine.waitForGroup("second", state: .succeeded))
        #expect(primerRuns.values == [first.primer.id])
        #expect(provider.createCount == 1)

        // The row says the same as the handle, also to a handle made later from the id.
        let row = try #require(try await engine.store.job(second.primer.id))
        #expect(row.state == .succeeded)
        #expect(try await engine.handle(for: second.primer.id).boundedResult().output == skipped.output)
        let group = try #require(try await engine.store.group(key: "second"))
        #expect(group.primerState == .skipped)
        #expect(group.jobsFinished == group.jobsTotal)
        let events = try await engine.allEvents()
        let hits = events.ofType(.cacheHit).filter { $0.groupID == group.id }
        #expect(hits.count == 1)
        #expect(hits.first?.data?.contains("primer_skipped") == true)
        #expect(events.forJob(second.primer.id).map(\.type) == ["job_queued", "job_succeeded"])
        let done = try #require(events.ofType(.groupDone).first { $0.groupID == group.id })
        #expect(try JSONValue(jsonString: done.data ?? "")["primer"] == "skipped")
        try await engine.boundedShutdown()
    }

    @Test func runsAnOpenGroupsPrimerWhenItsFingerprintDiffers() async throws {
        let dir = TemporaryDirectory()
        let provider = DemoPrefixCacheProvider()
        let engine = try await ActyEngine(
            database: .file(dir.file()), configuration: EngineConfiguration(runPrimerOnCacheHit: false),
            executors: [prefixAware], cacheProvider: provider
        )
        for (key, prefix) in [("v1", "playbook-v1"), ("v2", "playbook-v2")] {
            let primer = try await engine.withOpenGroup(key, cacheKey: "playbook") { group in
                try await group.submitPrimer(["prefix_id": .string(prefix)])
            }
            #expect(try await primer.boundedResult().attempts == 1)
        }
        #expect(provider.createCount == 2)
        try await engine.boundedShutdown()
    }
}
