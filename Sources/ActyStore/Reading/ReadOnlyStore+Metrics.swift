import ActyCore
import Foundation
import GRDB

/// What `acty-query metrics` exports: the state of a database as labelled samples, read in one snapshot, so a
/// textfile exporter or a scrape sees numbers that add up, whichever process ran the jobs.
package struct MetricsSnapshot: Sendable {
    /// One metric: its name, help text, type (`gauge`), and samples.
    package struct Family: Sendable {
        package var name: String
        package var help: String
        package var samples: [Sample]
    }

    /// One value with its labels, in order.
    package struct Sample: Sendable {
        package var labels: [(String, String)]
        package var value: Double
    }

    /// The families, in a fixed order.
    package var families: [Family]
}

extension ReadOnlyStore {
    /// The database's metrics: jobs by lane, role, executor and state; attempts by outcome; retries; rescues; tokens;
    /// queue depth and the age of the oldest ready job by lane; live engines. Every family is a gauge: pruning old
    /// jobs lowers the counts.
    ///
    /// - Parameter now: the time the ages are measured at (Unix seconds).
    package func metricsSnapshot(now: Double = Date().timeIntervalSince1970) throws -> MetricsSnapshot {
        try read { db in
            func family(_ name: String, _ help: String, _ sql: String, labels: [String], _ arguments: StatementArguments = []) throws
                -> MetricsSnapshot.Family
            {
                let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
                let samples = rows.map { row in
                    MetricsSnapshot.Sample(
                        labels: labels.enumerated().map { ($1, (row[$0] as String?) ?? "") }, value: (row[labels.count] as Double?) ?? 0
                    )
                }
                return MetricsSnapshot.Family(name: name, help: help, samples: samples)
            }
            return MetricsSnapshot(families: [
                try family(
                    "acty_jobs", "Jobs in the database by lane, role, executor and state.",
                    "SELECT lane, role, executor, state, COUNT(*) FROM jobs GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
                    labels: ["lane", "role", "executor", "state"]
                ),
                try family(
                    "acty_attempts", "Finished attempts by lane, executor and outcome (abandoned: rescued from a worker that died).",
                    """
                    SELECT jobs.lane, jobs.executor, attempts.outcome, COUNT(*) FROM attempts JOIN jobs ON jobs.id = attempts.job_id
                    WHERE attempts.outcome IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                    """,
                    labels: ["lane", "executor", "outcome"]
                ),
                try family(
                    "acty_retries", "Failed or timed-out attempts that were retried (followed by another attempt, or waiting for it).",
                    """
                    SELECT jobs.lane, jobs.executor, COUNT(*) FROM attempts JOIN jobs ON jobs.id = attempts.job_id
                    WHERE attempts.outcome IN ('failed', 'timed_out')
                        AND (attempts.number < jobs.attempts OR jobs.state IN ('scheduled', 'ready', 'running'))
                    GROUP BY 1, 2 ORDER BY 1, 2
                    """,
                    labels: ["lane", "executor"]
                ),
                try family(
                    "acty_tokens", "Tokens executors reported, by lane, executor and kind (prompt, completion, cached_prompt).",
                    """
                    SELECT jobs.lane, jobs.executor, kind.name,
                        TOTAL(CASE kind.name WHEN 'prompt' THEN attempts.prompt_tokens WHEN 'completion' THEN attempts.completion_tokens
                            ELSE attempts.cached_prompt_tokens END)
                    FROM attempts JOIN jobs ON jobs.id = attempts.job_id
                    JOIN (SELECT 'prompt' AS name UNION ALL SELECT 'completion' UNION ALL SELECT 'cached_prompt') AS kind
                    WHERE attempts.prompt_tokens IS NOT NULL
                    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                    """,
                    labels: ["lane", "executor", "kind"]
                ),
                try family(
                    "acty_queue_depth", "Unfinished jobs waiting, by lane and state (ready, scheduled, blocked).",
                    "SELECT lane, state, COUNT(*) FROM jobs WHERE state IN ('ready', 'scheduled', 'blocked') GROUP BY 1, 2 ORDER BY 1, 2",
                    labels: ["lane", "state"]
                ),
                try family(
                    "acty_jobs_in_flight", "Running jobs by lane and pool.",
                    "SELECT lane, COALESCE(pool, 'none'), COUNT(*) FROM jobs WHERE state = 'running' GROUP BY 1, 2 ORDER BY 1, 2",
                    labels: ["lane", "pool"]
                ),
                try family(
                    "acty_oldest_ready_age_seconds", "Seconds since the oldest ready job of each lane was submitted.",
                    "SELECT lane, MAX(0, ? - MIN(created_at)) FROM jobs WHERE state = 'ready' GROUP BY 1 ORDER BY 1",
                    labels: ["lane"], [now]
                ),
                try family(
                    "acty_groups", "Groups by state.", "SELECT state, COUNT(*) FROM groups GROUP BY 1 ORDER BY 1", labels: ["state"]
                ),
                try family(
                    "acty_workers_alive", "Engines registered on the file that have not stopped.",
                    "SELECT COUNT(*) FROM workers WHERE stopped_at IS NULL", labels: []
                ),
            ])
        }
    }
}
