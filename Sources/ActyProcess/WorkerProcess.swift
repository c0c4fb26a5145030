import ActyCore
import CActyProcess
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One worker child process: a request goes to its standard input as one line, its answer comes back as one line on
/// its standard output, and its standard error is drained all the time into a short tail kept for error messages.
///
/// Two threads of its own read the child's output: one splits standard output into lines and hands them to the
/// request waiting for them, the other keeps standard error's last lines and, once that stream ends, reaps the
/// child (`waitpid`), so a child never lingers as a zombie and never blocks on a full pipe. Standard input is one end
/// of a Unix socket pair rather than a pipe, so writing to a dead worker fails with `EPIPE` (`MSG_NOSIGNAL`) instead
/// of raising `SIGPIPE` in this process.
final class WorkerProcess: Sendable {
    /// What the standard-output reader produced.
    enum Output: Sendable {
        case line([UInt8])
        /// A line grew past the configured maximum; the reader stopped.
        case tooLong
        /// Standard output ended: the worker exited or closed it.
        case closed
    }

    /// Why the worker was told to stop.
    enum Stop: Sendable {
        case timedOut, cancelled, discarded, shutdown
    }

    /// What a request waiting for an answer gets.
    enum Event: Sendable {
        case output(Output)
        case stopped(Stop)
    }

    /// How the child ended.
    enum Exit: Sendable, CustomStringConvertible {
        case status(Int32)
        case signal(Int32)

        var description: String {
            switch self {
            case .status(let code): "exited with status \(code)"
            case .signal(let signal): "was killed by signal \(signal)\(signal == SIGKILL ? " (SIGKILL)" : signal == SIGTERM ? " (SIGTERM)" : "")"
            }
        }
    }

    struct State: Sendable {
        var input: Int32
        var output: [Output] = []
        var waiter: CheckedContinuation<Event, Never>?
        var stopped: Stop?
        var exit: Exit?
        var errorTail: [String] = []
    }

    /// The child's process id (and process group id: it leads a group of its own).
    let pid: pid_t
    let state: Locked<State>
    private let grace: Duration
    let errorLines: Int

    private init(pid: pid_t, input: Int32, grace: Duration, errorLines: Int) {
        self.pid = pid
        self.state = Locked(State(input: input))
        self.grace = grace
        self.errorLines = errorLines
    }

    /// Starts a worker as `configuration` says.
    static func start(_ configuration: ProcessExecutorConfiguration) throws(ProcessExecutorError) -> WorkerProcess {
        let command = configuration.command
        func failure(_ what: String, _ code: Int32) -> ProcessExecutorError {
            ProcessExecutorError(.spawnFailed, "could not start '\(command)': \(what): \(String(cString: strerror(code)))")
        }
        guard let input = socketPair() else { throw failure("socketpair", errno) }
        guard let output = pipePair() else {
            let code = errno
            closeAll(input)
            throw failure("pipe", code)
        }
        guard let errors = pipePair() else {
            let code = errno
            closeAll(input, output)
            throw failure("pipe", code)
        }
        let argv = ([command] + configuration.arguments).map { strdup($0) } + [nil]
        let environment = configuration.environment ?? ProcessInfo.processInfo.environment
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let code: Int32 =
            if let directory = configuration.workingDirectory {
                acty_spawn_worker(command, argv, envp, directory, input.child, output.child, errors.child, &pid)
            } else {
                acty_spawn_worker(command, argv, envp, nil, input.child, output.child, errors.child, &pid)
            }
        close(input.child)
        close(output.child)
        close(errors.child)
        guard code == 0 else {
            close(input.parent)
            close(output.parent)
            close(errors.parent)
            throw failure("posix_spawn", code)
        }
        _ = fcntl(input.parent, F_SETFL, fcntl(input.parent, F_GETFL) | O_NONBLOCK)
        let worker = WorkerProcess(pid: pid, input: input.parent, grace: configuration.terminationGrace, errorLines: configuration.standardErrorLines)
        let maximum = configuration.maximumResponseBytes
        Thread.detachNewThread { worker.readOutput(from: output.parent, maximum: maximum) }
        Thread.detachNewThread { worker.readErrorsAndReap(from: errors.parent) }
        return worker
    }

    // MARK: Requests

    /// Sends `line` (which ends in a newline) and waits for the next line of output, or for the worker to stop.
    ///
    /// Cancelling the calling task stops the worker (`SIGTERM`, then `SIGKILL` after the grace period) and throws
    /// `CancellationError`; `timeout` does the same and throws a ``ProcessExecutorError/Code/timedOut`` error.
    func exchange(_ line: [UInt8], timeout: Duration?) async throws -> [UInt8] {
        try await withTaskCancellationHandler {
            let timer = timeout.map { timeout in
                Task { [self] in
                    try await Task.sleep(for: timeout)
                    stop(.timedOut)
                }
            }
            defer { timer?.cancel() }
            let event: Event
            if try await send(line) {
                event = await next()
            } else {
                // Stopped meanwhile (cancelled, timed out), or the worker is gone.
                event = state.withLock { $0.stopped }.map(Event.stopped) ?? .output(.closed)
            }
            switch event {
            case .output(.line(let bytes)):
                return bytes
            case .output(.tooLong):
                stop(.discarded)
                throw failure(.malformedResponse, "the worker wrote a line longer than the maximum response size")
            case .output(.closed):
                stop(.discarded)
                await waitForExit()
                throw failure(.workerExited, "the worker \(exitDescription) before answering")
            case .stopped(.timedOut):
                await waitForExit()
                let seconds = timeout.map { String(format: "%g", Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18) } ?? "?"
                throw failure(.timedOut, "the request took longer than \(seconds) s; the worker was killed")
            case .stopped(.cancelled):
                throw CancellationError()
            case .stopped(.discarded), .stopped(.shutdown):
                throw failure(.shutDown, "the worker was stopped because the executor shut down")
            }
        } onCancel: {
            stop(.cancelled)
        }
    }

    /// A failure of this worker, with its last standard-error lines.
    func failure(_ code: ProcessExecutorError.Code, _ message: String) -> ProcessExecutorError {
        ProcessExecutorError(code, message, pid: pid, standardError: state.withLock { $0.errorTail })
    }

    /// Writes all of `bytes` to the worker's standard input. Returns `false` when the worker cannot take them (its
    /// input is closed, it exited, or it was stopped).
    private func send(_ bytes: [UInt8]) async throws -> Bool {
        var offset = 0
        while offset < bytes.count {
            // The descriptor is used and closed only under the lock, so a concurrent stop cannot close it (and the
            // number be reused by another file) in the middle of a write.
            let (written, code) = state.withLock { state -> (Int, Int32) in
                guard state.input >= 0, state.stopped == nil else { return (-1, EPIPE) }
                let written = bytes.withUnsafeBytes { buffer in
                    sendWithoutSignal(state.input, buffer.baseAddress! + offset, buffer.count - offset)
                }
                return (written, written < 0 ? errno : 0)
            }
            if written > 0 {
                offset += written
            } else if code == EAGAIN || code == EWOULDBLOCK {
                // The worker is not reading (busy, or a request larger than the socket buffer): wait a little.
                try await Task.sleep(for: .milliseconds(1))
            } else if code != EINTR {
                return false
            }
        }
        return true
    }

    /// The next line of output, or why the worker stopped.
    private func next() async -> Event {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Event? in
                if let stop = state.stopped { return .stopped(stop) }
                if !state.output.isEmpty { return .output(state.output.removeFirst()) }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    // MARK: Stopping

    /// Whether the worker was told to stop or its output ended: it takes no more requests.
    var isStopped: Bool {
        state.withLock { state in
            state.stopped != nil || state.exit != nil || state.output.contains { if case .line = $0 { false } else { true } }
        }
    }

    /// Whether the child has exited and was reaped.
    var hasExited: Bool { state.withLock { $0.exit != nil } }

    /// Stops the worker: a request waiting on it gets `reason` at once. At shutdown its standard input is closed so
    /// it can exit by itself, with `SIGTERM` after the grace period and `SIGKILL` after another; otherwise it gets
    /// `SIGTERM` now and `SIGKILL` after the grace period. Signals go to its whole process group. Calling it again
    /// does nothing.
    func stop(_ reason: Stop) {
        let (first, waiter, input) = state.withLock { state -> (Bool, CheckedContinuation<Event, Never>?, Int32) in
            guard state.stopped == nil else { return (false, nil, -1) }
            state.stopped = reason
            let waiter = state.waiter
            state.waiter = nil
            let input = state.input
            state.input = -1
            return (true, waiter, input)
        }
        guard first else { return }
        if input >= 0 { close(input) }
        waiter?.resume(returning: .stopped(reason))
        if reason == .shutdown {
            after(grace) { [self] in
                sendSignal(SIGTERM)
                after(grace) { [self] in sendSignal(SIGKILL) }
            }
        } else {
            sendSignal(SIGTERM)
            after(grace) { [self] in sendSignal(SIGKILL) }
        }
    }

    /// Sends `signal` to the worker's process group, unless the worker was already reaped (its id may have been
    /// reused then).
    private func sendSignal(_ signal: Int32) {
        state.withLock { state in
            guard state.exit == nil else { return }
            _ = kill(-pid, signal)
        }
    }

    /// Waits until the child was reaped, for at most `limit` (by default long enough for `SIGKILL` to have come).
    func waitForExit(limit: Duration? = nil) async {
        let deadline = ContinuousClock.now + (limit ?? grace * 2 + .seconds(2))
        // A failure path only, and bounded: polling keeps it simple and cancellation-proof.
        while !hasExited, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// What became of the child, for an error message.
    private var exitDescription: String {
        state.withLock { $0.exit?.description } ?? "closed its standard output"
    }

    private func after(_ delay: Duration, _ body: @escaping @Sendable () -> Void) {
        let (seconds, attoseconds) = delay.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds), execute: body)
    }

    // MARK: Descriptors

    private typealias Pair = (parent: Int32, child: Int32)

    /// A Unix stream socket pair: this process writes `parent`, the child reads `child`.
    private static func socketPair() -> Pair? {
        var descriptors: [Int32] = [-1, -1]
        guard acty_cloexec_socketpair(&descriptors) == 0 else { return nil }
        return (descriptors[0], descriptors[1])
    }

    /// A pipe: the child writes `child`, this process reads `parent`.
    private static func pipePair() -> Pair? {
        var descriptors: [Int32] = [-1, -1]
        guard acty_cloexec_pipe(&descriptors) == 0 else { return nil }
        return (descriptors[0], descriptors[1])
    }

    private static func closeAll(_ pairs: Pair...) {
        for pair in pairs {
            close(pair.parent)
            close(pair.child)
        }
    }
}

/// `send` on the worker's input socket, failing with `EPIPE` rather than raising `SIGPIPE` when the worker is gone.
private func sendWithoutSignal(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if os(Linux)
    Glibc.send(descriptor, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    Darwin.send(descriptor, bytes, count, 0)  // SO_NOSIGPIPE is set on the socket
    #endif
}
