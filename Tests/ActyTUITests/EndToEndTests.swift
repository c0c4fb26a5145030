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
    @Test func quitAndSigtermRestoreTheTerminal() async throws {
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
        try await tmux.start("sh \(script)", width: 100, height: 30)

        try await waitUntil("the replay is on the alternate screen") { tmux.alternateScreen && tmux.capture().contains("replay ") }
        #expect(tmux.capture().contains("python-run-a.jsonl"))
        tmux.send("q")
        try await waitUntil("stty ran after q") { FileManager.default.fileExists(atPath: folder.file("after-q")) }
        try await waitUntil("the second replay is on the alternate screen") { tmux.alternateScreen && tmux.capture().contains("replay ") }
        let pid = try #require(tmux.childOfPane(named: "acty-tui"))
        kill(pid, SIGTERM)
        try await waitUntil("stty ran after SIGTERM") { FileManager.default.fileExists(atPath: folder.file("after-term")) }
        #expect(!tmux.alternateScreen)
        let before = try String(contentsOfFile: folder.file("before"), encoding: .utf8)
        #expect(try String(contentsOfFile: folder.file("after-q"), encoding: .utf8) == before)
        #expect(try String(contentsOfFile: folder.file("after-term"), encoding: .utf8) == before)
    }

    /// acty-demo writes the file in another process, a follow starts late (mid-run), acty-demo is killed, and a
    /// second acty-demo resumes the file: follow shows each engine while it runs, that none is alive after the crash and at the end, and, once the
    /// file is quiet, the same totals, group outcomes and lane counts as the database.
    @Test func followShowsACrashedAndResumedActyDemoRun() async throws {
        let tui = try BuiltProduct.url(named: "acty-tui", environmentVariable: "ACTY_TUI").path
        let demo = try BuiltProduct.url(named: "acty-demo", environmentVariable: "ACTY_DEMO").path
        let folder = TemporaryDirectory()
        let path = folder.file("demo.db")
        func runDemo(_ name: String, groups: Int) throws -> ChildProcess {
            try ChildProcess(demo, [
                "--database", path, "--groups", String(groups), "--followers", "4", "--min-delay-ms", "40",
                "--max-delay-ms", "120", "--failure-rate", "0.1", "--max-attempts", "2",
            ], standardOutput: folder.file("\(name).out"), standardError: folder.file("\(name).err"))
        }
        let tmux = Tmux()
        defer { tmux.stop() }
        let first = try runDemo("first", groups: 60)
        defer { first.send(SIGKILL) }
        try await waitUntil("the first acty-demo has finished jobs") { ((try? StoreCounts.jobs(path))?["succeeded"] ?? 0) >= 10 }

        // A late follow: the run's counts from the tables and its last 20 events, read in one snapshot while
        // acty-demo writes; the events after them move jobs from those counts.
        try await tmux.start("\(tui) follow \(path) --last-n 20 --poll-interval 0.1", width: 120, height: 40)
        try await waitUntil("follow shows the first acty-demo alive") { Self.header(tmux.capture()).contains("/\(first.pid)") }
        first.send(SIGKILL)
        await first.exited()
        try await waitUntil("follow shows that the killed engine is gone") { Self.header(tmux.capture()).contains("no engine alive") }

        // The second run rescues the killed run's jobs and drains what it left queued.
        let second = try runDemo("second", groups: 4)
        defer { second.send(SIGKILL) }
        #expect(await second.exited() == .status(0))
        let final = try StoreCounts.jobs(path)
        let store = try Store.openReadOnly(path)
        #expect(final["running", default: 0] == 0 && final["succeeded", default: 0] > 0)
        let expected = "jobs \(final.values.reduce(0, +)) · blocked \(final["blocked", default: 0]) ready \(final["ready", default: 0])"
            + " sched \(final["scheduled", default: 0]) running 0 done \(final["succeeded", default: 0])"
            + " failed \(final["failed", default: 0]) cancelled \(final["cancelled", default: 0])"
        var screen = ""
        try await waitUntil("the screen shows the database's totals: \(expected)") {
            screen = tmux.capture()
            return screen.contains(expected) && Self.header(screen).contains("no engine alive")
        }
        // Group outcomes and each lane's ready / running / done / failed, as the database counts them.
        let outcomes = try StoreCounts.groups(path)
        #expect(screen.contains("\(outcomes["succeeded", default: 0]) ok \(outcomes["failed", default: 0]) failed"), "\(screen)")
        let lanes = try store.lanes()
        for index in lanes.rows.indices {
            let name = try #require(lanes.value("name", row: index)?.stringValue)
            let numbers = ["ready", "running", "done", "failed"].map { lanes.value($0, row: index)?.intValue ?? -1 }
            let row = screen.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map(String.init) ?? ""
            let shown = row.split(separator: " ").compactMap { Int($0) }.suffix(4)
            #expect(Array(shown) == numbers, "lane \(name): \(row)")
        }
        tmux.send("q")
        try await waitUntil("follow quits on q") { !tmux.alternateScreen }
    }

    /// The first three lines of a captured frame.
    static func header(_ screen: String) -> String {
        screen.split(separator: "\n", omittingEmptySubsequences: false).prefix(3).joined(separator: "\n")
    }

    @Test func followAndReplayWithoutATerminalSuggestSnapshot() async throws {
        let tui = try BuiltProduct.url(named: "acty-tui", environmentVariable: "ACTY_TUI").path
        let folder = TemporaryDirectory()
        for arguments in [["follow", Fixture.pythonRun], ["replay", Fixture.pythonRun]] {
            let errors = folder.file("stderr-\(arguments[0])")
            let child = try ChildProcess(tui, arguments, standardOutput: folder.file("stdout"), standardError: errors)
            #expect(await child.exited().status == 1)
            let message = try String(contentsOfFile: errors, encoding: .utf8)
            #expect(message.contains("needs a terminal") && message.contains("acty-tui snapshot"), "\(message)")
        }
    }
}

/// Waits for `condition`, checking every 50 ms, for at most 20 s, without holding a thread of the pool the other
/// tests run on.
func waitUntil(_ what: String, _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
        if try condition() { return }
        try await Task.sleep(for: .milliseconds(50))
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

    func start(_ command: String, width: Int, height: Int) async throws {
        run(["-f", "/dev/null", "new-session", "-d", "-s", "tui", "-x", String(width), "-y", String(height), command])
        try await waitUntil("tmux started") { !run(["list-sessions"]).isEmpty }
        // A test process that is killed runs no `defer`: the server then ends itself, and the follow it runs.
        if let binary = Self.binary {
            let tmux = "\(binary) -L \(socket)"
            run(["run-shell", "-b", "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; kill -9 $(\(tmux) list-panes -a -F '#{pane_pid}'); \(tmux) kill-server"])
        }
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

    /// Ends the session's programs and the server (`kill-server` alone can leave a busy pane's program running).
    func stop() {
        let panes = run(["list-panes", "-a", "-F", "#{pane_pid}"]).split(separator: "\n").compactMap { pid_t($0) }
        for pid in panes { kill(pid, SIGKILL) }
        run(["kill-server"])
    }
}
