import ActyCore
import ActyStore
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
private let systemRead = Glibc.read
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
private let systemRead = Darwin.read
#endif

/// The controlling terminal in raw mode on the alternate screen. `restore()` puts it back as it was; the run loop
/// calls it on quit, on errors, and after SIGINT/SIGTERM (which only set a flag the loop checks).
final class Terminal {
    private var saved = termios()
    private var restored = false
    private let signals: [any DispatchSourceSignal]
    /// Set by SIGINT or SIGTERM.
    let interrupted = Locked(false)
    /// Set by SIGWINCH: the next frame is drawn whole.
    let resized = Locked(false)

    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 }

    init() throws {
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else {
            throw ActyError(.invalidArgument, "cannot read the terminal's settings (errno \(errno))")
        }
        var raw = saved
        // Raw input: no echo, no line buffering, no signals from keys (ctrl-c arrives as a byte), no flow control.
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | BRKINT | INPCK | ISTRIP)
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0 else {
            throw ActyError(.invalidArgument, "cannot put the terminal in raw mode (errno \(errno))")
        }
        var sources: [any DispatchSourceSignal] = []
        let queue = DispatchQueue(label: "acty-tui.signals")
        for (number, flag) in [(SIGINT, interrupted), (SIGTERM, interrupted), (SIGWINCH, resized)] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { flag.withLock { $0 = true } }
            source.resume()
            sources.append(source)
        }
        signals = sources
        write(ANSI.enter)
    }

    deinit { restore() }

    /// Leaves the alternate screen and restores the saved settings and signal handlers (idempotent).
    func restore() {
        guard !restored else { return }
        restored = true
        write(ANSI.leave)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
        for source in signals { source.cancel() }
        for number in [SIGINT, SIGTERM, SIGWINCH] { signal(number, SIG_DFL) }
    }

    /// Columns and lines.
    var size: (width: Int, height: Int) {
        var window = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0 else { return (80, 24) }
        return (Int(window.ws_col), Int(window.ws_row))
    }

    func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { systemWrite(STDOUT_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            offset += written
        }
    }

    /// Waits up to `milliseconds` for input and returns what arrived (empty on timeout).
    func read(waiting milliseconds: Int32) -> [UInt8] {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, milliseconds) > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { systemRead(STDIN_FILENO, $0.baseAddress!, $0.count) }
        return count > 0 ? Array(buffer[..<count]) : []
    }
}

/// The interactive loop shared by follow and replay: keys → context and feed, feed → state, state → frame → diff.
enum Session {
    static func run(title: String, state initial: DashboardState, feed initialFeed: some EventFeed, store: ReadOnlyStore? = nil) throws {
        let terminal = try Terminal()
        defer { terminal.restore() }
        let colors = ANSI.usesColor(isTerminal: true, environment: ProcessInfo.processInfo.environment)
        var state = initial
        var feed = initialFeed
        var context = ViewContext(title: title, position: feed.position)
        var shown: Grid?
        var lastDraw = 0.0
        while !terminal.interrupted.withLock({ $0 }) {
            var dirty = false
            for key in Key.parse(terminal.read(waiting: 50)) {
                let screen = context.screen
                if let command = KeyMap.handle(key, context: &context, state: state) {
                    if command == .quit { return }
                    dirty = feed.handle(command, state: &state) || dirty
                }
                if let store, context.screen != screen {
                    if case .job(let id) = context.screen { context.jobDetails = JobDetails.lines(store, id) }
                    if case .group(let key) = context.screen { context.groupJobs = JobDetails.jobs(store, group: key) }
                }
                dirty = true
            }
            let now = Date().timeIntervalSince1970
            dirty = try feed.tick(now: now, state: &state) || dirty
            if terminal.resized.withLock({ let was = $0; $0 = false; return was }) {
                shown = nil
                dirty = true
            }
            // Redraw on change, and once a second for the clocks.
            guard dirty || now - lastDraw >= 1 else { continue }
            context.position = feed.position
            let size = terminal.size
            let grid = View.render(state, context, width: size.width, height: size.height)
            terminal.write(ANSI.frame(from: shown, to: grid, colors: colors))
            shown = grid
            lastDraw = now
        }
    }

    /// The message for follow and replay without a terminal.
    static func needsTerminal(_ command: String, _ path: String) -> ActyError {
        ActyError(
            .invalidArgument,
            "acty-tui \(command) needs a terminal (standard input and output must be a TTY); for one frame as text use: acty-tui snapshot \(path)"
        )
    }
}
