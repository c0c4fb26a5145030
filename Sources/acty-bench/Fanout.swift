import Acty

import ArgumentParser
import Foundation

/// G groups of one primer and F followers, no-op executor, file database, full event log.
struct Fanout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throughput of groups of one primer and F followers with a no-op executor.",
        discussion: "Example: acty-bench fanout --groups 2000 --followers 9 --primer-workers 8 --follower-workers 32"
    )

    @Option(help: "Number of groups.") var groups = 2000
    @Option(help: "Followers per group.") var followers = 9
    @Option(help: "Primer pool size.") var primerWorkers = 8
    @Option(help: "Follower pool size.") var followerWorkers = 32
    @Option(help: "Durability: process or power.") var durability = "process"
    @Option(help: "Concurrent submitting tasks.") var submitters = 16
    @Option(help: "Database file (default: a new file in a temporary folder).") var database: String?

    func run() async throws {
        guard let durability = Durability(rawValue: durability) else {
            throw ValidationError("--durability must be 'process' or 'power'")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = database ?? folder.appendingPathComponent("bench.db").path

        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(primerWorkers: primerWorkers, followerWorkers: followerWorkers, durability: durability),
            executors: [NoopExecutor()]
        )
        let followerPayloads: [JSONValue] = (0..<followers).map { ["agent": .string("specialist:\($0)")] }
        let clock = ContinuousClock()
        let start = clock.now
        let groups = groups
        let submitters = submitters
        let handles = try await withThrowingTaskGroup(of: [JobHandle].self) { group in
            for submitter in 0..<submitters {
                group.addTask {
                    var handles: [JobHandle] = []
                    for index in stride(from: submitter, to: groups, by: submitters) {
                        let submission = try await engine.submitGroup(
                            "group-\(index)", primer: ["agent": "coordinator", "index": .number(Double(index))], followers: followerPayloads
                        )
                        handles += submission.jobs
                    }
                    return handles
                }
            }
            var all: [JobHandle] = []
            for try await part in group { all += part }
            return all
        }
        let submitted = clock.now - start
        var succeeded = 0
        for handle in handles where try await handle.result().status == .succeeded { succeeded += 1 }
        let elapsed = clock.now - start
        try await engine.shutdown()

        let seconds = elapsed.seconds
        let submitSeconds = submitted.seconds
        let result: JSONValue = [
            "workload": "fanout",
            "groups": .number(Double(groups)),
            "followers": .number(Double(followers)),
            "jobs": .number(Double(handles.count)),
            "succeeded": .number(Double(succeeded)),
            "primer_workers": .number(Double(primerWorkers)),
            "follower_workers": .number(Double(followerWorkers)),
            "durability": .string(durability.rawValue),
            "seconds": .number(seconds),
            "submit_seconds": .number(submitSeconds),
            "jobs_per_second": .number(Double(handles.count) / seconds),
            "peak_rss_mb": .number(Double(peakRSSBytes()) / 1_048_576),
        ]
        print(result.jsonString)
    }
}

/// The process's peak resident set size, in bytes.
func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}
