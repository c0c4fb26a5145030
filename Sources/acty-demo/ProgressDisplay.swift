import Acty
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts the outcomes of a run's jobs as their results arrive.
final class RunProgress: Sendable {
    /// A snapshot of the counts.
    struct Counts {
        var succeeded = 0
        var failed = 0
        var cancelled = 0
        /// Followers an open group refused because it had already failed; they were never submitted.
        var refused = 0

        var finished: Int { succeeded + failed + cancelled }
    }

    /// The jobs the plan submits if none is refused.
    let planned: Int
    private let counts = Locked(Counts())

    init(planned: Int) {
        self.planned = planned
    }

    /// Records a finished job.
    func finished(_ status: JobResult.Status) {
        counts.withLock { counts in
            switch status {
            case .succeeded: counts.succeeded += 1
            case .failed: counts.failed += 1
            case .cancelled: counts.cancelled += 1
            }
        }
    }

    /// Records a follower that was refused.
    func refused() {
        counts.withLock { $0.refused += 1 }
    }

    var snapshot: Counts { counts.withLock { $0 } }
}

/// The live progress line on stderr: rewritten in place with `\r` when stderr is a terminal, otherwise printed
/// as a new line every second so logs stay readable.
struct ProgressDisplay {
    let progress: RunProgress
    let start: ContinuousClock.Instant
    let isTerminal = isatty(STDERR_FILENO) == 1

    /// Updates the line until the task is cancelled.
    func run() async {
        let interval: Duration = isTerminal ? .milliseconds(100) : .seconds(1)
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { break }
            show()
        }
    }

    /// Shows the final counts and ends the line.
    func finish() {
        show()
        if isTerminal { write("\n") }
    }

    private func show() {
        let counts = progress.snapshot
        let seconds = (ContinuousClock.now - start).seconds
        let total = progress.planned - counts.refused
        let rate = seconds > 0 ? Double(counts.finished) / seconds : 0
        var line = "[\(format(seconds, digits: 1))s] jobs \(counts.finished)/\(total)"
        line += "  succeeded \(counts.succeeded)  failed \(counts.failed)  cancelled \(counts.cancelled)"
        if counts.refused > 0 { line += "  refused \(counts.refused)" }
        line += "  \(format(rate, digits: 1)) jobs/s"
        // `ESC [ K` clears what a longer previous line left behind.
        write(isTerminal ? "\r\(line)\u{1B}[K" : "\(line)\n")
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// A number with a fixed number of decimals.
func format(_ value: Double, digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}
