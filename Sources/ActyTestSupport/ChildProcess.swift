public import Foundation
import ActyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, its standard streams in files, for tests that run a built tool.
///
/// Foundation's `Process.run()` on Linux (Swift 6.3) lists `/proc/self/fd` to close inherited descriptors and copies
/// each directory entry's whole 256-byte name buffer; when an entry sits at the end of a mapped page that read
/// crashes the parent (swift-corelibs-foundation#5472: 1 run in 3 of this suite, once every store had a checkpointer
/// connection). Spawning directly avoids that. Descriptors the test process opened without close-on-exec are inherited
/// (SQLite sets it on its files); the tests do not hand the child pipes, so no reader waits on a copy of one.
public final class ChildProcess: Sendable {
    /// How a child ended.
    public enum Exit: Equatable, Sendable, CustomStringConvertible {
        case status(Int32)
        case signal(Int32)

        public var description: String {
            switch self {
            case .status(let code): "exit status \(code)"
            case .signal(let signal): "signal \(signal)"
            }
        }

        /// The exit status, or -1 for a child killed by a signal.
        public var status: Int32 {
            if case .status(let code) = self { return code }
            return -1
        }
    }

    /// The child could not be started.
    public struct SpawnFailed: Error, CustomStringConvertible {
        public let executable: String
        public let code: Int32
        public var description: String { "could not start \(executable): \(String(cString: strerror(code)))" }
    }

    /// The child's process id.
    public let pid: pid_t
    private let exit = Locked<Exit?>(nil)

    /// Starts `executable` with `arguments`; standard input is `/dev/null`, standard output and error go to the
    /// given files (created or truncated), or to `/dev/null` when `nil`.
    ///
    /// - Parameter environment: the child's whole environment; `nil` passes this process's on.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        standardOutput: String? = nil, standardError: String? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, standardError ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let environment = environment ?? ProcessInfo.processInfo.environment
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard code == 0 else { throw SpawnFailed(executable: executable, code: code) }
        self.pid = pid
    }

    /// How the child ended, once it has (it is reaped then, so its pid is free); `nil` while it runs.
    public var ended: Exit? {
        exit.withLock { exit in
            if exit == nil { exit = Self.reap(pid, blocking: false) }
            return exit
        }
    }

    /// Waits until the child ends without blocking a thread: tests run on the few threads of the cooperative pool,
    /// and a blocking wait there stalls every other test. A cancelled caller falls back to the blocking wait.
    @discardableResult
    public func exited() async -> Exit {
        while true {
            if let ended { return ended }
            do {
                try await Task.sleep(for: .milliseconds(10))
            } catch {
                return waitUntilExit()
            }
        }
    }

    /// Blocks the calling thread until the child ends. In async code, use ``exited()``.
    @discardableResult
    public func waitUntilExit() -> Exit {
        if let ended { return ended }
        let result = Self.reap(pid, blocking: true)
        return exit.withLock { exit in
            exit = exit ?? result
            return exit ?? .status(-1)
        }
    }

    /// Sends `signal` to the child, unless it was already reaped (its pid may belong to another process then).
    public func send(_ signal: Int32) {
        exit.withLock { exit in
            guard exit == nil else { return }
            _ = kill(pid, signal)
        }
    }

    private static func reap(_ pid: pid_t, blocking: Bool) -> Exit? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if result == pid { break }
            if result == 0 { return nil }
            if errno == EINTR { continue }
            return .status(-1)
        }
        // The <sys/wait.h> macros are not imported into Swift.
        let signal = status & 0x7f
        return signal == 0 ? .status((status >> 8) & 0xff) : .signal(signal)
    }
}
