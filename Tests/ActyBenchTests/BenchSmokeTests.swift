import ActyTestSupport
import Foundation
import Testing

/// Each `acty-bench` workload, run as the built binary with tiny parameters: it must exit 0 and print one line of
/// valid JSON with the expected keys. Benchmarks are not tests: nothing here checks a timing.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct BenchSmokeTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let keys: [String]
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(arguments: ["fanout", "--groups", "50"], keys: ["workload", "jobs", "succeeded", "jobs_per_second", "sqlite", "peak_rss_mb"]),
        Case(arguments: ["fanout", "--groups", "50", "--bulk", "8"], keys: ["workload", "jobs", "succeeded", "bulk", "jobs_per_second"]),
        Case(
            arguments: ["dependencies", "--shape", "chain", "--groups", "60", "--followers", "2", "--bulk", "16"],
            keys: ["workload", "shape", "jobs", "succeeded", "seconds", "seconds_without_dependencies", "ratio", "sqlite", "peak_rss_mb"]
        ),
        Case(
            arguments: ["dependencies", "--shape", "fan-in", "--groups", "100", "--fan-in", "30"],
            keys: ["workload", "shape", "fan_in", "jobs", "succeeded", "seconds", "ratio"]
        ),
        Case(
            arguments: ["recovery", "--jobs", "2000", "--inflight", "20"],
            keys: ["workload", "first_job_ms", "drain_seconds", "lost", "double_recorded", "sqlite", "peak_rss_mb"]
        ),
        Case(
            arguments: ["scale", "--groups", "300", "--checkpoints", "500,3000"],
            keys: ["workload", "jobs", "jobs_per_second", "jobs_per_second_at", "drain_seconds", "sqlite", "peak_rss_mb"]
        ),
        Case(
            arguments: ["latency", "--rate", "500", "--seconds", "1"],
            keys: ["workload", "rate", "jobs", "enqueue_to_start_ms", "call_to_start_ms", "sqlite", "peak_rss_mb"]
        ),
        Case(
            arguments: ["fairness", "--jobs-per-lane", "300"],
            keys: ["workload", "weights", "max_share_error_points", "mean_share_error_points", "sqlite", "peak_rss_mb"]
        ),
        Case(
            arguments: ["llm", "--calls", "100", "--primer-workers", "2", "--follower-workers", "6"],
            keys: ["workload", "calls", "plain_calls_per_second", "engine_calls_per_second", "engine_succeeded", "ratio", "engine_extra_cpu_ms_per_call"]
        ),
        Case(
            arguments: ["fairness", "--weights", "5:3:1", "--jobs-per-lane", "300"],
            keys: ["workload", "weights", "max_share_error_points", "mean_share_error_points", "sqlite", "peak_rss_mb"]
        ),
    ]

    @Test(arguments: cases)
    func workloadPrintsOneJSONLine(_ testCase: Case) async throws {
        let run = try await BenchBinary.run(testCase.arguments)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: true)
        try #require(lines.count == 1, "stdout: \(run.stdout)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        for key in testCase.keys { #expect(object[key] != nil, "missing \(key) in \(lines[0])") }
        #expect(object["workload"] as? String == testCase.arguments[0])
    }

    /// Without `--rate`, latency runs at half the jobs/s of a fan-out run it measures first.
    @Test func latencyDefaultsToHalfTheMeasuredFanoutRate() async throws {
        let run = try await BenchBinary.run(["latency", "--seconds", "0.2"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let source = try #require(object["rate_source"] as? String)
        let measured = try #require(source.firstMatch(of: #/\((\d+) jobs/s\)/#).flatMap { Int($0.output.1) }, "\(source)")
        #expect(object["rate"] as? Int == max(1, measured / 2))
    }

    @Test(arguments: [
        ["scale", "--checkpoints", "ten"], ["latency", "--rate", "0"], ["fairness", "--weights", "3"],
        ["fairness", "--weights", "3:0"], ["scale", "--durability", "disk"], ["llm", "--phase", "both-please"],
    ])
    func badOptionsAreRejectedWithASentence(_ arguments: [String]) async throws {
        let run = try await BenchBinary.run(arguments)
        #expect(run.status != 0)
        #expect(run.stderr.contains("Error: --"), "stderr: \(run.stderr)")
    }

    @Test(arguments: ["scale", "latency", "fairness"])
    func helpHasAnExample(_ workload: String) async throws {
        let run = try await BenchBinary.run([workload, "--help"])
        #expect(run.status == 0)
        // The help wraps lines: compare with runs of white space made single spaces.
        let text = run.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("Example: acty-bench \(workload) --"), "\(run.stdout)")
    }
}

/// The built `acty-bench` executable (the lookup of `Tests/ActyTests/TestWorkerProcess.swift`).
enum BenchBinary {
    static let name = "acty-bench"

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the binary to its end; standard error goes through a file so neither stream can fill a pipe.
    static func run(_ arguments: [String]) async throws -> Run {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("acty-bench-smoke-\(UUID().uuidString)").path
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        let exit = await (try ChildProcess(try url().path, arguments, standardOutput: base + ".out", standardError: base + ".err")).exited()
        let output = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
        return Run(status: exit.status, stdout: output, stderr: errors + "\n(\(exit))")
    }

    static func url() throws -> URL {
        try BuiltProduct.url(named: name, environmentVariable: "ACTY_BENCH")
    }
}
