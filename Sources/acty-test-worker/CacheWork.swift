import Acty
import ArgumentParser
import Foundation

/// Submits groups that share one cache key and runs them, with a provider that logs every `create` call: run
/// several at once on one file to check that the entry is created once across processes.
struct CacheWork: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache-work",
        abstract: "Submits and runs groups sharing a cache key; logs each provider create and each job's reference."
    )

    @Option(help: "The database file.") var database: String
    @Option(help: "Append-only log: `create <pid>` per provider create, `ref <job> <ref>` per executed job.") var log: String
    @Option(help: "Groups to submit.") var groups = 10
    @Option(help: "A prefix making this process's group keys unique.") var prefix: String
    @Option(help: "Milliseconds the provider's create takes.") var createMs = 200

    func run() async throws {
        let log = try ExecutionLog(path: self.log)
        let provider = LoggingCacheProvider(log: log, createDelay: .milliseconds(createMs))
        let executor = ClosureExecutor(name: "cache-aware") { job in
            log.append("ref \(job.id) \(job.cache?.providerRef ?? "nil")")
            return .null
        }
        let engine = try await ActyEngine(
            database: .file(database),
            configuration: EngineConfiguration(primerWorkers: 4, followerWorkers: 4, pollInterval: .milliseconds(20)),
            executors: [executor],
            cacheProvider: provider
        )
        var handles: [JobHandle] = []
        for index in 0..<groups {
            let submission = try await engine.submitGroup(
                "\(prefix)-\(index)", primer: ["prefix_id": "shared"], followers: [["n": 1], ["n": 2]], cacheKey: "shared-key"
            )
            handles += submission.jobs
        }
        for handle in handles where try await handle.result().status != .succeeded {
            throw ValidationError("job \(handle.id) did not succeed")
        }
        try await engine.shutdown()
    }
}

/// A provider whose `create` takes a while and leaves a line in the log.
struct LoggingCacheProvider: CacheProvider {
    let name = "logging"
    let log: ExecutionLog
    let createDelay: Duration

    func fingerprint(primer: JSONValue, context: JSONValue?) -> String {
        primer["prefix_id"]?.stringValue ?? ""
    }

    func create(primer: JSONValue, context: JSONValue?) async throws -> String? {
        log.append("create \(getpid())")
        try await Task.sleep(for: createDelay)
        return "session-\(getpid())"
    }
}
