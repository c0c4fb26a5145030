import Acty
import ActyCore
import ActyStore
import ActyTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `acty-tui` in a real terminal: a detached tmux session on a private server, read with capture-pane.
/// Skipped when tmux is not installed (`.ci/run` installs it).
@Suite(.timeLimit(.minutes(2)), .enabled(if: Tmux.isInstalled, "tmux is not installed: install it (apt-get install tmux) to run the terminal tests"))
struct EndToEndTests {
    @Test func quitAndSigtermRestoreTheTerminal() throws {
        let tui = try BuiltProduct.url(named: "acty-tui", environmentVariable: "ACTY_TUI").path
        let folder = TemporaryDirectory()
        let tmux = Tmux()
        defer { tmux.stop() }
        let script = folder.file("run.sh")
        try """
            stty -g > \(folder.file("before"))
            \(tui) replay \(Fixture.pythonRun) --speed 0.01
            stty -g > \(folder.file("after-q"))
            \(tui) replay \(Fixture.pythonRun) --speed 0.01
            stty -g > \(folder.file("after-term"))
            sleep 30
            """.write(toFile: script, atomically: true, encoding: .utf8)
        try tmux.start("sh \(script)", width: 100, height: 30)

        try waitUntil("the replay is on the alternate screen") { tmux.alternateScreen && tmux.capture().contains("replay ") }
        #expect(tmux.capture().contains("python-run-a.jsonl"))
        tmux.send("q")
        try waitUntil("stty ran after q") { FileManager.default.fileExists(atPath: folder.file("after-q")) }
        try waitUntil("the second replay is on the alternate screen") { tmux.alternateScreen && tmux.capture().contains("replay ") }
        let pid = try #require(tmux.childOfPane(named: "acty-tui"))
        kill(pid, SIGTERM)
        try waitUntil("stty ran after SIGTERM") { FileManager.default.fileExists(atPath: folder.file("after-term")) }
        #expect(!tmux.alternateScreen)
        let before = try String(contentsOfFile: folder.file("before"), encoding: .utf8)
        #expect(try String(contentsOfFile: folder.file("after-q"), encoding: .utf8) == before)
        #expect(try String(contentsOfFile: folder.file("after-term"), encoding: .utf8) == before)
    }

    @Test func followShowsWhatAnEngineWritesInAnotherProcess() async throws {
        let tui = try BuiltProduct.url(named: "acty-tui", environmentVariable: "ACTY_TUI").path
        let folder = TemporaryDirectory()
        let path = folder.file()
        let engine = try await ActyEngine(
            database: .file(path), configuration: EngineConfiguration(lanes: ["fast": LaneConfiguration(weight: 3)]),
            executors: [ClosureExecutor(name: "work") { job in
                if job.payload["fail"]?.boolValue == true { throw EngineRun.Planned() }
                return job.payload
            }]
        )
        let tmux = Tmux()
        defer { tmux.stop() }
        do {
            try tmux.start("\(tui) follow \(path) --poll-interval 0.1", width: 120, height: 40)
            try waitUntil("follow shows the live engine") { tmux.capture().contains("engines ") }
            var handles: [GroupSubmission] = []
            for index in 0..<8 {
                let followers: [JSONValue] = (0..<5).map { ["n": .number(Double($0)), "fail": .bool(index == 3 && $0 == 0)] }
                handles.append(try await engine.submitGroup("e2e-\(index)", primer: ["n": 0], followers: followers, lane: "fast"))
            }
            for handle in handles { for job in handle.jobs { _ = try? await job.result() } }
            let store = try Store.openReadOnly(path)
            let counts = Dictionary(uniqueKeysWithValues: (try store.summary().first { $0.0 == "jobs_by_state" }!.1.rows)
                .map { ($0[0].stringValue!, $0[1].intValue!) })
            let expected = "jobs \(counts.values.reduce(0, +)) ·"
            let done = "done \(counts["succeeded", default: 0]) failed \(counts["failed", default: 0])"
            try waitUntil("the screen shows the database's counts: \(expected) … \(done)") {
                let screen = tmux.capture()
                return screen.contains(expected) && screen.contains(done)
            }
            // The failing follower fails its group: followers of it that had not started yet are cancelled.
            #expect(counts["failed"] == 1)
            #expect(counts["succeeded", default: 0] + counts["cancelled", default: 0] == 47)
        } catch {
            try await engine.shutdown()
            throw error
        }
        try await engine.shutdown()
        try waitUntil("follow shows that no engine is alive") { tmux.capture().contains("no engine alive") }
        tmux.send("q")
        try waitUntil("follow quits on q") { !tmux.alternateScreen }
    }

    @Test func followAndReplayWithoutATerminalSuggestSnapshot() async throws {
        let tui = try BuiltProduct.url(named: "acty-tui", environmentVariable: "ACTY_TUI").path
        let folder = TemporaryDirectory()
        for arguments in [["follow", Fixture.pythonRun], ["replay", Fixture.pythonRun]] {
            let errors = folder.file("stderr-\(arguments[0])")
            let child = try ChildProcess(tui, arguments, standardOutput: folder.file("stdout"), standardError: errors)
            #expect(child.waitUntilExit().status == 1)
            let message = try String(contentsOfFile: errors, encoding: .utf8)
            #expect(message.contains("needs a terminal") && message.contains("acty-tui snapshot"), "\(message)")
        }
    }
}

/// Waits for `condition`, checking every 50 ms, for at most 20 s.
func waitUntil(_ what: String, _ condition: () throws -> Bool) throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
        if try condition() { return }
        usleep(50_000)
    }
    struct TimedOut: Error, CustomStringConvertible { var description: String }
    throw TimedOut(description: "timed out waiting until \(what)")
}

/// A private tmux server (its own socket) with one detached session.
final class Tmux: Sendable {
    static let binary = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/opt/homebrew/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var isInstalled: Bool { binary != nil }

    let socket = "acty-tui-test-\(UUID().uuidString.prefix(8))"

    let folder = TemporaryDirectory()

    /// Runs a tmux command to its end and returns its output (through a file: the server a command starts keeps
    /// its inherited descriptors open).
    @discardableResult
    func run(_ arguments: [String]) -> String {
        let output = folder.file("tmux-\(UUID().uuidString)")
        defer { unlink(output) }
        guard let binary = Self.binary, let child = try? ChildProcess(binary, ["-L", socket] + arguments, standardOutput: output) else { return "" }
        child.waitUntilExit()
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }

    func start(_ command: String, width: Int, height: Int) throws {
        run(["-f", "/dev/null", "new-session", "-d", "-s", "tui", "-x", String(width), "-y", String(height), command])
        try waitUntil("tmux started") { !run(["list-sessions"]).isEmpty }
    }

    func capture() -> String { run(["capture-pane", "-p", "-t", "tui"]) }
    var alternateScreen: Bool { run(["display-message", "-p", "-t", "tui", "#{alternate_on}"]).hasPrefix("1") }
    func send(_ keys: String) { run(["send-keys", "-t", "tui", keys]) }

    /// The pid of the pane's child process whose command line starts with `name`'s path.
    func childOfPane(named name: String) -> pid_t? {
        guard let shell = Int32(run(["display-message", "-p", "-t", "tui", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)),
            let children = try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)
        else { return nil }
        return children.split(separator: " ").compactMap { Int32($0) }.first { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains(name)
        }
    }

    func stop() { run(["kill-server"]) }
}
