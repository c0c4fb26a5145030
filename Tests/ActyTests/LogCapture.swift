import ActyCore
import Logging

/// Keeps what an engine logs, for tests that check a warning is given (and given once).
final class LogCapture: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let entries = Locked<[Entry]>([])

    /// A logger writing into this capture, at `debug` and above.
    var logger: Logger {
        var logger = Logger(label: "acty-test") { _ in Handler(capture: self) }
        logger.logLevel = .debug
        return logger
    }

    /// The warnings logged so far.
    var warnings: [Entry] { entries.withLock { $0.filter { $0.level == .warning } } }

    /// Everything logged so far.
    var all: [Entry] { entries.withLock { $0 } }

    fileprivate func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append(Entry(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
        }
    }
}
