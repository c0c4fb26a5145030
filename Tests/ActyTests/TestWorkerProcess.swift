import ActyTestSupport
@testable import ActyStore
import Foundation
import GRDB

/// An `acty-test-worker` process (see `Sources/acty-test-worker`), started by a test with its output in files.
final class TestWorkerProcess: Sendable {
    typealias Exit = ChildProcess.Exit

    private let child: ChildProcess
    private let kills = Recorder<Date>()
    /// The child's process id.
    let pid: Int32
    /// When the test launched it.
    let launchedAt: Date
    /// The files holding its standard output and standard error.
    let stdoutPath: String
    let stderrPath: String

    /// Starts `acty-test-worker` with `arguments`; its output goes to `<name>.out` and `<name>.err` in `dir`.
    init(_ arguments: [String], in dir: TemporaryDirectory, name: String) throws {
        stdoutPath = dir.file(name + ".out")
        stderrPath = dir.file(name + ".err")
        launchedAt = Date()
        child = try ChildProcess(try TestWorkerBinary.url().path, arguments, standardOutput: stdoutPath, standardError: stderrPath)
        pid = child.pid
    }

    /// Runs `acty-test-worker` to its end and returns its standard output; throws unless it exits with status 0.
    static func run(_ arguments: [String], in dir: TemporaryDirectory, name: String, timeout: Duration = .seconds(60)) async throws -> String {
        let child = try TestWorkerProcess(arguments, in: dir, name: name)
        let ended = try await child.waitForExit(timeout: timeout)
        guard ended == .status(0) else { throw ChildFailed(name: name, exit: ended, stderr: child.stderr) }
        return child.stdout
    }

    /// The child's exit, once the child has ended and been reaped (so its pid is free and `kill(pid, 0)` fails).
    var ended: Exit? { child.ended }

    /// When the test first sent SIGKILL, if it did.
    var killedAt: Date? { kills.values.first }

    /// Kills the child with SIGKILL: it gets no chance to clean up.
    func kill() {
        kills.append(Date())
        child.send(SIGKILL)
    }

    /// Waits until the child has ended; kills it and throws ``WaitTimedOut`` when it takes longer than `timeout`.
    @discardableResult
    func waitForExit(timeout: Duration) async throws -> Exit {
        if try await waitUntil(timeout: timeout, { ended != nil }), let ended { return ended }
        kill()
        throw WaitTimedOut(what: "acty-test-worker \(pid) to exit (it was killed)")
    }

    /// What the child wrote to standard output so far.
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// What the child wrote to standard error so far.
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    deinit {
        if ended == nil { kill() }
    }
}

/// A child that did not exit with status 0.
struct ChildFailed: Error, CustomStringConvertible {
    let name: String
    let exit: TestWorkerProcess.Exit
    let stderr: String
    var description: String { "acty-test-worker \(name) ended with \(exit): \(stderr)" }
}

/// Finds the `acty-test-worker` binary that was built with the tests (or the one `ACTY_TEST_WORKER` names).
enum TestWorkerBinary {
    static let name = "acty-test-worker"

    static func url() throws -> URL {
        try BuiltProduct.url(named: name, environmentVariable: "ACTY_TEST_WORKER")
    }
}

/// One line of the execution log: an executor run of a job's attempt, in a process, at a time.
struct Execution: Hashable {
    var job: Int64
    var attempt: Int
    var pid: Int32
    var at: Double

    /// The complete lines of the log. A last line without its newline (a write torn by a kill) is left out.
    static func read(_ path: String) throws -> [Execution] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // after the final newline: empty, or a torn line
        return try lines.map { line in
            let fields = line.split(separator: " ")
            guard fields.count == 4, let job = Int64(fields[0]), let attempt = Int(fields[1]), let pid = Int32(fields[2]),
                let at = Double(fields[3])
            else { throw BadLogLine(line: String(line)) }
            return Execution(job: job, attempt: attempt, pid: pid, at: at)
        }
    }

    struct BadLogLine: Error, CustomStringConvertible {
        let line: String
        var description: String { "malformed execution log line: '\(line)'" }
    }
}

/// A row of the `workers` table.
struct WorkerRow: Hashable {
    var id: String
    var pid: Int32
    var stoppedAt: Double?
    var stopReason: String?
}

extension Store {
    /// Every row of `workers`, stopped or not.
    func allWorkers() async throws -> [WorkerRow] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, pid, stopped_at, stop_reason FROM workers ORDER BY started_at").map {
                WorkerRow(id: $0[0], pid: Int32($0[1] as Int), stoppedAt: $0[2], stopReason: $0[3])
            }
        }
    }
}
