import Acty
import ActyStore

/// The end-of-run report on stdout, built from what the database holds for this run's groups.
struct Summary {
    /// The run's counts, read from the database.
    let run: DatabaseSummary
    /// The whole file's counts, earlier runs included.
    let database: DatabaseSummary
    /// How many runs the file holds (distinct run ids).
    let runs: Int
    /// Lane weights by name, as stored in the `lanes` table.
    let weights: [String: Double]
    let runID: String
    let databasePath: String
    let eventsPath: String?
    /// From engine start to the last result.
    let wallSeconds: Double
    /// Followers refused by open groups that had already failed.
    let refused: Int

    /// Reads the counts from a database the engine has finished with.
    static func read(
        databasePath: String, runID: String, eventsPath: String?, wallSeconds: Double, refused: Int
    ) async throws -> Summary {
        let store = try Store(.file(databasePath))
        defer { try? store.close() }
        return Summary(
            run: try await store.summary(groupKeyPrefix: runID + "/"),
            database: try await store.summary(),
            runs: try await store.groupKeyPrefixCount(separator: "/"),
            weights: Dictionary(try await store.lanes().map { ($0.name, $0.weight) }, uniquingKeysWith: { first, _ in first }),
            runID: runID, databasePath: databasePath, eventsPath: eventsPath, wallSeconds: wallSeconds, refused: refused
        )
    }

    /// The report, one line per entry.
    var lines: [String] {
        let jobs = run.totalJobs
        var lines = ["Acty demo run \(runID): \(run.totalGroups) groups, \(jobs) jobs", ""]

        lines.append("Jobs by state")
        let byState = run.jobsByState
        for state in JobState.allCases where byState[state] != nil || state.isTerminal {
            lines.append(row(state.rawValue, byState[state] ?? 0))
        }
        if refused > 0 { lines.append(row("refused", refused) + "  (followers not submitted: their group had failed)") }

        lines += ["", "Jobs by lane (jobs, share of the run, lane weight, average wait from submission to start)"]
        let byLane = run.jobsByLane
        for lane in byLane.keys.sorted(by: { (byLane[$0]!, $1) > (byLane[$1]!, $0) }) {
            let count = byLane[lane]!
            var text = row(lane, count) + "  " + pad(percent(count, of: jobs), 6)
            if let weight = weights[lane] { text += "  weight \(weight == weight.rounded() ? String(Int(weight)) : String(weight))" }
            if let wait = run.averageWait(lane: lane) { text += "  avg wait \(format(wait, digits: 2)) s" }
            lines.append(text)
        }

        lines += ["", "Jobs by role"]
        let byRole = run.jobsByRole
        for role in JobRole.allCases where byRole[role] != nil {
            lines.append(row(role.rawValue, byRole[role]!))
        }

        lines += ["", "Groups by state"]
        for state in GroupState.allCases where run.groupsByState[state] != nil {
            lines.append(row(state.rawValue, run.groupsByState[state]!))
        }

        let finished = run.jobCounts.filter(\.state.isTerminal).reduce(0) { $0 + $1.count }
        lines += [
            "",
            "Attempts    \(run.attempts)" + (run.resubmittedAttempts > 0 ? "  (\(run.resubmittedAttempts) broken JSON answers sent back for repair)" : ""),
            "Wall time   \(format(wallSeconds, digits: 2)) s",
            "Throughput  \(format(wallSeconds > 0 ? Double(finished) / wallSeconds : 0, digits: 1)) jobs/s",
            "Database    \(databasePath)",
            "            holds \(runs) run\(runs == 1 ? "" : "s"): \(database.totalGroups) groups, \(database.totalJobs) jobs",
        ]
        if let eventsPath { lines.append("Events      \(eventsPath)") }
        return lines
    }

    private func row(_ label: String, _ count: Int) -> String {
        "  " + label + String(repeating: " ", count: max(1, 12 - label.count)) + pad(String(count), 6)
    }

    private func percent(_ count: Int, of total: Int) -> String {
        total > 0 ? format(100 * Double(count) / Double(total), digits: 1) + "%" : "-"
    }

    /// Right-aligns `text` in `width` columns.
    private func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
