import ActyCore
import ActyStore
import ArgumentParser
import Foundation

/// `acty-tui follow <db>`: the live dashboard of a database an engine is writing.
struct Follow: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch a database an engine (or several) is writing, live.",
        discussion: """
            Opens the file read-only (it never blocks the engine) and reads the events written after the last one \
            seen, every --poll-interval seconds. Without --from-start it shows the run's totals from the tables and \
            the last 200 events, then follows.

            Keys: q quit, ? help, t timeline, l event log, / filter, enter drill down, esc back.

            Example:
              acty-tui follow acty.db
            """
    )

    @Argument(help: "The Acty database file.")
    var db: String
    @Flag(help: "Replay every event of the file first.")
    var fromStart = false
    @Option(help: "Start with the last N events (default 200).")
    var lastN: Int?
    @Option(help: "Start with the events at or after this Unix time.")
    var startFromTs: Double?
    @Option(help: "Seconds between reads of new events.")
    var pollInterval = 0.2

    func validate() throws {
        if [fromStart, lastN != nil, startFromTs != nil].filter({ $0 }).count > 1 {
            throw ValidationError("--from-start, --last-n and --start-from-ts exclude each other; give one.")
        }
        if let lastN, lastN < 0 { throw ValidationError("--last-n must not be negative.") }
        guard pollInterval > 0, pollInterval <= 60 else { throw ValidationError("--poll-interval must be in (0, 60] seconds.") }
    }

    func run() throws {
        try reportingErrors {
            guard Terminal.isInteractive else { throw Session.needsTerminal("follow", db) }
            let start: FollowFeed.Start = fromStart ? .fromStart : startFromTs.map { .fromTime($0) } ?? .lastN(lastN ?? 200)
            let (feed, state) = try FollowFeed.open(db, start: start, pollInterval: pollInterval)
            let store = try Store.openReadOnly(db)
            try Session.run(title: URL(fileURLWithPath: db).lastPathComponent, state: state, feed: feed, store: store)
        }
    }
}

/// `acty-tui replay <db | file.jsonl>`: a run's events again, at a chosen speed.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a run's event log from a database or a JSONL file (ours or Python acty's).",
        discussion: """
            Keys: + faster, - slower, 0 as fast as possible, p pause, . one event when paused, g start, G end, \
            q quit, ? help, t timeline, l event log, / filter, enter drill down, esc back.

            Example:
              acty-tui replay events.jsonl --speed 4
            """
    )

    @Argument(help: "An Acty database file or a JSONL event log.")
    var path: String
    @Option(help: "Seconds of the run per second of replay; 0 = as fast as possible.")
    var speed = 1.0
    @Option(help: "Replay only the last N events.")
    var lastN: Int?
    @Option(help: "Replay the events at or after this Unix time.")
    var startFromTs: Double?

    func validate() throws {
        guard speed >= 0, speed.isFinite else { throw ValidationError("--speed must be 0 (as fast as possible) or positive.") }
        if lastN != nil && startFromTs != nil { throw ValidationError("--last-n and --start-from-ts exclude each other; give one.") }
    }

    func run() throws {
        try reportingErrors {
            guard Terminal.isInteractive else { throw Session.needsTerminal("replay", path) }
            let contents = try RunLog.load(path)
            var events = contents.events
            if let lastN { events = Array(events.suffix(max(0, lastN))) }
            if let startFromTs { events = events.filter { $0.at >= startFromTs } }
            var state = DashboardState()
            state.badLines = contents.badLines
            let feed = ReplayFeed(events: events, badLines: contents.badLines, speed: speed)
            let store = RunLog.isDatabase(path) ? try? Store.openReadOnly(path) : nil
            try Session.run(title: URL(fileURLWithPath: path).lastPathComponent, state: state, feed: feed, store: store)
        }
    }
}

/// A job's row and attempts from the database, for the job screen: its attempts, then payload and result as
/// indented JSON, each cut to a few lines.
enum JobDetails {
    /// Lines of pretty JSON shown per value; the rest is counted.
    static let linesPerValue = 14

    static func lines(_ store: ReadOnlyStore, _ id: String) -> [String] {
        guard let number = Int64(id), let sections = try? store.job(id: number) else { return [] }
        var lines: [String] = []
        let job = sections.first(where: { $0.0 == "job" })?.1
        func value(_ column: String) -> JSONValue? {
            guard let value = job?.value(column), value != .null else { return nil }
            return value
        }
        let settings = ["executor", "attempts", "max_attempts"].compactMap { column in
            value(column).map { "\(column) \($0.stringValue ?? $0.jsonString)" }
        }
        if !settings.isEmpty { lines.append(settings.joined(separator: "  ")) }
        if let attempts = sections.first(where: { $0.0 == "attempts" })?.1 {
            for index in attempts.rows.indices {
                let number = attempts.value("number", row: index)?.intValue ?? 0
                let outcome = attempts.value("outcome", row: index)?.stringValue ?? "?"
                let duration = attempts.value("duration", row: index)?.doubleValue ?? 0
                let worker = attempts.value("worker", row: index)?.stringValue.map { " on \($0.prefix(8))" } ?? ""
                let error = attempts.value("error", row: index)?.stringValue ?? ""
                lines.append("attempt \(number): \(outcome) in \(Glyphs.duration(duration))\(worker) \(error.prefix(200))")
            }
        }
        for column in ["error", "payload", "result"] {
            guard let stored = value(column) else { continue }
            let text = stored.stringValue ?? stored.jsonString
            guard let parsed = try? JSONValue(jsonString: text) else {
                lines.append("\(column): " + String(text.prefix(400)))
                continue
            }
            let pretty = prettyLines(parsed)
            lines.append("\(column):" + (pretty.count == 1 ? " " + pretty[0] : ""))
            if pretty.count > 1 {
                lines += pretty.prefix(linesPerValue).map { "  " + $0 }
                if pretty.count > linesPerValue { lines.append("  … \(pretty.count - linesPerValue) more lines") }
            }
        }
        return lines
    }

    /// A group's jobs as the database holds them (its newest group of that key), for the group screen.
    static func jobs(_ store: ReadOnlyStore, group key: String) -> [DashboardState.Job] {
        guard let table = try? store.group(key: key).first(where: { $0.0 == "jobs" })?.1 else { return [] }
        return table.rows.indices.compactMap { index in
            func value(_ column: String) -> JSONValue? { table.value(column, row: index) }
            guard let id = value("id")?.intValue else { return nil }
            var job = DashboardState.Job(
                id: String(id), group: key, lane: value("lane")?.stringValue ?? "default",
                role: value("role")?.stringValue.flatMap(JobRole.init(rawValue:)), follower: value("follower_index")?.intValue
            )
            job.phase = value("state")?.stringValue.flatMap(DashboardState.phase(ofState:))
            job.queuedAt = value("created_at")?.doubleValue
            job.startedAt = value("started_at")?.doubleValue
            job.finishedAt = value("finished_at")?.doubleValue
            return job
        }
    }

    /// `value` as indented JSON lines, object keys sorted, long strings cut to 160 characters.
    static func prettyLines(_ value: JSONValue, indent: String = "") -> [String] {
        let inner = indent + "  "
        switch value {
        case .object(let fields) where !fields.isEmpty:
            let keys = fields.keys.sorted()
            var lines = ["{"]
            for (index, key) in keys.enumerated() {
                var member = prettyLines(fields[key]!, indent: inner)
                member[0] = inner + JSONValue.string(key).jsonString + ": " + member[0]
                if index < keys.count - 1 { member[member.count - 1] += "," }
                lines += member
            }
            return lines + [indent + "}"]
        case .array(let elements) where !elements.isEmpty:
            var lines = ["["]
            for (index, element) in elements.enumerated() {
                var member = prettyLines(element, indent: inner)
                member[0] = inner + member[0]
                if index < elements.count - 1 { member[member.count - 1] += "," }
                lines += member
            }
            return lines + [indent + "]"]
        case .string(let text) where text.count > 160:
            return [JSONValue.string(String(text.prefix(160)) + "…").jsonString]
        default:
            return [value.jsonString]
        }
    }
}
