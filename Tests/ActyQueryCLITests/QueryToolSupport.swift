import ActyTestSupport
import Acty
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a finished `acty-query` run printed.
struct ToolRun {
    var status: Int32
    var stdout: String
    var stderr: String

    /// Standard output parsed as one JSON document.
    func json() throws -> JSONValue { try JSONValue(jsonString: stdout) }
}

/// The built `acty-query` executable: next to the test bundle, or in a scratch folder of the package.
enum QueryTool {
    static let name = "acty-query"

    static func url() throws -> URL {
        try BuiltProduct.url(named: name, environmentVariable: "ACTY_QUERY")
    }

    /// Runs `acty-query arguments` to its end (at most `timeout`), with its output in files.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(20)) async throws -> ToolRun {
        let folder = TemporaryDirectory()
        let child = try Child(arguments, in: folder, environment: environment)
        let deadline = ContinuousClock.now + timeout
        while child.process.ended == nil {
            if ContinuousClock.now > deadline {
                child.process.send(SIGTERM)
                struct TimedOut: Error {}
                throw TimedOut()
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return ToolRun(status: child.status, stdout: child.stdout, stderr: child.stderr)
    }

    /// Runs `acty-query arguments` to its end, blocking the caller (for polling conditions).
    static func runSync(_ arguments: [String]) -> ToolRun {
        let folder = TemporaryDirectory()
        guard let child = try? Child(arguments, in: folder) else { return ToolRun(status: -1, stdout: "", stderr: "") }
        child.process.waitUntilExit()
        return ToolRun(status: child.status, stdout: child.stdout, stderr: child.stderr)
    }

    /// A running `acty-query`, with standard output and error in files.
    final class Child: Sendable {
        let process: ChildProcess
        let stdoutPath: String
        let stderrPath: String

        init(_ arguments: [String], in folder: TemporaryDirectory, environment: [String: String] = [:]) throws {
            let id = UUID().uuidString
            stdoutPath = folder.file("\(id).out")
            stderrPath = folder.file("\(id).err")
            var merged = ProcessInfo.processInfo.environment
            merged.removeValue(forKey: "COLUMNS")
            merged.merge(environment) { $1 }
            process = try ChildProcess(
                try QueryTool.url().path, arguments, environment: merged, standardOutput: stdoutPath, standardError: stderrPath
            )
        }

        /// The exit status, or -1 when the tool was killed by a signal (or still runs).
        var status: Int32 { process.ended?.status ?? -1 }

        var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    }
}

/// An executor named `work` that fails jobs whose payload has `"fail": true` and returns the payload otherwise.
struct PlannedFailure: Error, CustomStringConvertible {
    var description: String
}

func failingOnRequest() -> ClosureExecutor {
    ClosureExecutor(name: "work") { job in
        if job.payload["fail"]?.boolValue == true { throw PlannedFailure(description: "job \(job.id) was asked to fail") }
        return job.payload
    }
}

/// A cache provider whose entries are all `ref-1`.
struct FixedCacheProvider: CacheProvider {
    var name: String { "fixed" }
    func fingerprint(primer: JSONValue, context: JSONValue?) -> String { "fp-1" }
    func create(primer: JSONValue, context: JSONValue?) async throws -> String? { "ref-1" }
}

/// A database written by a real engine: group `ok` (primer + 2 followers, lane `fast`, cache key `prefix-1`) that succeeds and group
/// `doomed` (lane `slow`) whose primer fails; the engine is shut down before the tools read it.
struct EngineDatabase {
    let path: String
    let ok: GroupSubmission
    let doomed: GroupSubmission
    var results: [JobID: JobResult]

    static func make(in folder: TemporaryDirectory) async throws -> EngineDatabase {
        let path = folder.file()
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(lanes: ["fast": LaneConfiguration(weight: 3), "slow": LaneConfiguration(weight: 1, maxInflight: 2)]),
            executors: [failingOnRequest()],
            cacheProvider: FixedCacheProvider()
        )
        let ok = try await engine.submitGroup(
            "ok", primer: ["step": "prime"], followers: [["step": "a"], ["step": "b"]], lane: "fast", cacheKey: "prefix-1"
        )
        let doomed = try await engine.submitGroup("doomed", primer: ["fail": true], followers: ["never"], lane: "slow")
        var results: [JobID: JobResult] = [:]
        for job in ok.jobs + doomed.jobs { results[job.id] = try await job.result() }
        try await engine.shutdown()
        return EngineDatabase(path: path, ok: ok, doomed: doomed, results: results)
    }
}

func fileBytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

/// A text file named `notes.txt` in `folder`, for the tools to refuse as a database.
func notADatabase(in folder: TemporaryDirectory) throws -> String {
    let path = folder.file("notes.txt")
    try Data(String(repeating: "not a database\n", count: 200).utf8).write(to: URL(fileURLWithPath: path))
    return path
}
