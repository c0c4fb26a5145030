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
        #expect(provider.createCount == 1)
        try await engine.boundedShutdown()
    }
}
