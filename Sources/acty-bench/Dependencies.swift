import Acty
import ArgumentParser
import Foundation

/// Groups tied by dependencies, against the same groups without: a chain (each group waits for the one before) or
/// fan-ins (one collector group waits for each block of `--fan-in` groups).
struct Dependencies: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time of groups tied by dependencies (a chain, or fan-ins) against the same groups without dependencies.",
        discussion: """
            Both runs submit the same groups (1 primer and F followers each, no-op executor, file database, full event
            log) in bulk calls on a new engine and file, and wait for every result.

            Example: acty-bench dependencies --shape chain --groups 10000
                     acty-bench dependencies --shape fan-in --groups 10000 --fan-in 1000
            """
    )

    enum Shape: String, ExpressibleByArgument, CaseIterable {
        case chain
        case fanIn = "fan-in"
    }

    @Option(help: "chain: group i waits for group i-1; fan-in: a collector waits for each block of --fan-in groups.")
    var shape: Shape = .chain
    @Option(help: "Groups (fan-in: without the collectors).") var groups = 10_000
    @Option(help: "Followers per group.") var followers = 0
    @Option(help: "Groups each collector waits for (fan-in).") var fanIn = 1000
    @Option(help: "Primer pool size.") var primerWorkers = 8
    @Option(help: "Follower pool size.") var followerWorkers = 32
    @Option(help: "Groups per submitGroups call.") var bulk = 500

    func validate() throws {
        guard groups >= 1, followers >= 0, fanIn >= 1, bulk >= 1 else {
            throw ValidationError("--groups, --fan-in and --bulk must be at least 1, --followers at least 0")
        }
    }

    func run() async throws {
        let plain = try await measure(withDependencies: false)
        let tied = try await measure(withDependencies: true)
        let result: JSONValue = [
            "workload": "dependencies",
            "shape": .string(shape.rawValue),
            "groups": .number(Double(tied.groups)),
            "followers": .number(Double(followers)),
            "fan_in": shape == .fanIn ? .number(Double(fanIn)) : .null,
            "jobs": .number(Double(tied.jobs)),
            "succeeded": .number(Double(tied.succeeded)),
            "primer_workers": .number(Double(primerWorkers)),
            "follower_workers": .number(Double(followerWorkers)),
            "sqlite": sqliteSettings(.process),
            "seconds": .number(tied.elapsed.seconds),
            "submit_seconds": .number(tied.submitted.seconds),
            "seconds_without_dependencies": .number(plain.elapsed.seconds),
            "ratio": .number(tied.elapsed.seconds / plain.elapsed.seconds),
            "peak_rss_mb": .number(Double(peakRSSBytes()) / 1_048_576),
        ]
        print(result.jsonString)
    }

    /// The run's groups, in submission order: a chain in order, and each collector after its block.
    func specs(withDependencies: Bool) -> [GroupSpec] {
        let followerPayloads: [JSONValue] = (0..<followers).map { ["agent": .string("specialist:\($0)")] }
        func spec(_ key: String, _ dependsOn: [String]) -> GroupSpec {
            GroupSpec(
                key, primer: ["agent": "coordinator"], followers: followerPayloads,
                dependsOn: withDependencies ? dependsOn.map { GroupDependency($0) } : []
            )
        }
        switch shape {
        case .chain:
            return (0..<groups).map { spec("link-\($0)", $0 == 0 ? [] : ["link-\($0 - 1)"]) }
        case .fanIn:
            var specs: [GroupSpec] = []
            for block in stride(from: 0, to: groups, by: fanIn) {
                let members = (block..<min(block + fanIn, groups)).map { "member-\($0)" }
                specs += members.map { spec($0, []) }
                specs.append(spec("collector-\(block / fanIn)", members))
            }
            return specs
        }
    }

    func measure(withDependencies: Bool) async throws -> (groups: Int, jobs: Int, succeeded: Int, elapsed: Duration, submitted: Duration) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let engine = try await ActyEngine(
            database: .file(folder.appendingPathComponent("bench.db").path),
            configuration: EngineConfiguration(primerWorkers: primerWorkers, followerWorkers: followerWorkers),
            executors: [NoopExecutor()]
        )
        let specs = specs(withDependencies: withDependencies)
        let clock = ContinuousClock()
        let start = clock.now
        var handles: [JobHandle] = []
        for first in stride(from: 0, to: specs.count, by: bulk) {
            handles += try await engine.submitGroups(Array(specs[first..<min(first + bulk, specs.count)])).flatMap(\.jobs)
        }
        let submitted = clock.now - start
        var succeeded = 0
        for handle in handles where try await handle.result().status == .succeeded { succeeded += 1 }
        let elapsed = clock.now - start
        try await engine.shutdown()
        return (specs.count, handles.count, succeeded, elapsed, submitted)
    }
}
