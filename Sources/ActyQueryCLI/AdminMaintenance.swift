import ActyCore
import ActyStore
import ArgumentParser
import Foundation

/// `acty-query prune`: remove old finished groups.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove groups that finished longer ago than a duration, with their jobs, attempts and events.",
        discussion: """
            Durations are a number and a unit: s, m, h, d or w. Live groups are never removed.

            Example:
              acty-query prune acty.db --older-than 7d
            """
    )

    @OptionGroup var options: AdminOptions
    @Option(help: ArgumentHelp("How long ago a group must have finished, e.g. 90m, 12h, 7d.", valueName: "duration"))
    var olderThan: String

    func validate() throws {
        guard Self.seconds(olderThan) != nil else {
            throw ValidationError("--older-than takes a number and a unit (s, m, h, d or w), for example 12h or 7d; got '\(olderThan)'.")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let store = try options.open()
            defer { try? store.close() }
            let cutoff = Date().timeIntervalSince1970 - Self.seconds(olderThan)!
            let result = try await store.prune(finishedBefore: cutoff, worker: adminWorker)
            confirm(
                "removed \(result.groups) groups, \(result.jobs) jobs, \(result.attempts) attempts and \(result.events) events"
            )
        }
    }

    /// Parses `90s`, `15m`, `12h`, `7d`, `2w` (fractions allowed) into seconds.
    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        guard let unit = text.last, let factor = units[unit], let value = Double(text.dropLast()), value.isFinite, value >= 0 else {
            return nil
        }
        return value * factor
    }
}

/// `acty-query checkpoint`: fold the write-ahead log into the database file.
struct Checkpoint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the write-ahead log into the database file and truncate it.",
        discussion: "Example:\n  acty-query checkpoint acty.db"
    )

    @OptionGroup var options: AdminOptions

    func run() async throws {
        try await reportingErrors {
            let store = try options.open()
            defer { try? store.close() }
            let (log, copied) = try await store.checkpoint()
            confirm("checkpointed \(copied) of \(log) log frames; the log is truncated")
        }
    }
}
