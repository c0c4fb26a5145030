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
            arguments: ["fairness", "--weights", "5:3:1", "--jobs-per-lane", "300"],
            keys: ["workload", "weights", "max_share_error_points", "mean_share_error_points", "sqlite", "peak_rss_mb"]
        ),
    ]

    @Test(arguments: cases)
    func workloadPrintsOneJSONLine(_ testCase: Case) throws {
        let run = try BenchBinary.run(testCase.arguments)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: true)
        try #require(lines.count == 1, "stdout: \(run.stdout)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        for key in testCase.keys { #expect(object[key] != nil, "missing \(key) in \(lines[0])") }
        #expect(object["workload"] as? String == testCase.arguments[0])
    }

    @Test(arguments: [
        ["scale", "--checkpoints", "ten"], ["latency", "--rate", "0"], ["fairness", "--weights", "3"],
        ["fairness", "--weights", "3:0"], ["scale", "--durability", "disk"],
    ])
    func badOptionsAreRejectedWithASentence(_ arguments: [String]) throws {
        let run = try BenchBinary.run(arguments)
        #expect(run.status != 0)
        #expect(run.stderr.contains("Error: --"), "stderr: \(run.stderr)")
    }

    @Test(arguments: ["scale", "latency", "fairness"])
    func helpHasAnExample(_ workload: String) throws {
        let run = try BenchBinary.run([workload, "--help"])
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
    static func run(_ arguments: [String]) throws -> Run {
        let errorPath = FileManager.default.temporaryDirectory.appendingPathComponent("acty-bench-smoke-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errorPath.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorPath) }
        let process = Process()
        process.executableURL = try url()
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = (try? String(contentsOf: errorPath, encoding: .utf8)) ?? ""
        return Run(status: process.terminationStatus, stdout: String(decoding: data, as: UTF8.self), stderr: errors)
    }

    static func url(filePath: String = #filePath) throws -> URL {
        let manager = FileManager.default
        if let path = ProcessInfo.processInfo.environment["ACTY_BENCH"] {
            guard manager.isExecutableFile(atPath: path) else { throw NotFound(searched: [path]) }
            return URL(fileURLWithPath: path)
        }
        var folders: [URL] = []
        for bundle in Bundle.allBundles + [Bundle.main] {
            if bundle.bundleURL.pathExtension == "xctest" { folders.append(bundle.bundleURL.deletingLastPathComponent()) }
            if let executable = bundle.executableURL { folders.append(executable.deletingLastPathComponent()) }
        }
        folders.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        #if os(Linux)
        if let executable = try? manager.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folders.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
        }
        #endif
        for folder in folders {
            let candidate = folder.appendingPathComponent(name)
            if manager.isExecutableFile(atPath: candidate.path) { return candidate }
        }

        // Tests/ActyBenchTests/<file>.swift → the package root.
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var candidates: [URL] = []
        let scratch = (try? manager.contentsOfDirectory(atPath: root.path))?.filter { $0.hasPrefix(".build") } ?? []
        for folder in scratch.map({ root.appendingPathComponent($0) }) {
            candidates.append(folder.appendingPathComponent("debug/\(name)"))
            for triple in (try? manager.contentsOfDirectory(atPath: folder.path)) ?? [] {
                candidates.append(folder.appendingPathComponent("\(triple)/debug/\(name)"))
            }
        }
        let found = candidates.filter { manager.isExecutableFile(atPath: $0.path) }
        func modified(_ url: URL) -> Date {
            ((try? manager.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date) ?? .distantPast
        }
        guard let newest = found.max(by: { modified($0) < modified($1) }) else {
            throw NotFound(searched: folders.map(\.path) + candidates.map(\.path))
        }
        return newest
    }

    struct NotFound: Error, CustomStringConvertible {
        let searched: [String]
        var description: String {
            "acty-bench was not found; build it with `swift build --build-tests` or set ACTY_BENCH. Searched: "
                + searched.joined(separator: ", ")
        }
    }
}
