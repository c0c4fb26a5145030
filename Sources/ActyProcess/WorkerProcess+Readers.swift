import ActyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The two reader threads of a worker: standard output split into lines for the waiting request, standard error
/// kept as a tail of lines and, once it ends, the child reaped.
extension WorkerProcess {
    /// Splits standard output into lines for the requests, until it ends.
    func readOutput(from descriptor: Int32, maximum: Int) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        reading: while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            var start = 0
            for index in 0..<count where chunk[index] == UInt8(ascii: "\n") {
                pending.append(contentsOf: chunk[start..<index])
                deliver(.line(pending))
                pending.removeAll(keepingCapacity: true)
                start = index + 1
            }
            pending.append(contentsOf: chunk[start..<count])
            if pending.count > maximum {
                deliver(.tooLong)
                break reading
            }
        }
        close(descriptor)
        deliver(.closed)
    }

    private func deliver(_ output: Output) {
        let waiter = state.withLock { state -> CheckedContinuation<Event, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.output.append(output)
            return nil
        }
        waiter?.resume(returning: .output(output))
    }

    /// Keeps standard error's last lines until it ends, then reaps the child.
    func readErrorsAndReap(from descriptor: Int32) {
        let longestLine = 2_000
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            var lines: [String] = []
            var start = 0
            for index in 0..<count where chunk[index] == UInt8(ascii: "\n") {
                if pending.count < longestLine { pending.append(contentsOf: chunk[start..<min(index, start + longestLine - pending.count)]) }
                lines.append(String(decoding: pending, as: UTF8.self))
                pending.removeAll(keepingCapacity: true)
                start = index + 1
            }
            if pending.count < longestLine { pending.append(contentsOf: chunk[start..<min(count, start + longestLine - pending.count)]) }
            if !lines.isEmpty { keep(lines) }
        }
        close(descriptor)
        if !pending.isEmpty { keep([String(decoding: pending, as: UTF8.self)]) }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, 0) } while result < 0 && errno == EINTR
        // The <sys/wait.h> macros are not imported into Swift.
        let exit: Exit = result != pid ? .status(-1) : (status & 0x7f == 0 ? .status((status >> 8) & 0xff) : .signal(status & 0x7f))
        state.withLock { $0.exit = exit }
    }

    private func keep(_ lines: [String]) {
        state.withLock { state in
            state.errorTail.append(contentsOf: lines.suffix(errorLines))
            if state.errorTail.count > errorLines { state.errorTail.removeFirst(state.errorTail.count - errorLines) }
        }
    }
}
