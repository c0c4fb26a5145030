package import ActyCore
import GRDB

/// Jobs of one lane waiting in one state, or running in one pool: what the engine's queue gauges show.
package struct QueueDepth: Sendable, Hashable {
    /// The lane.
    package var lane: String
    /// `ready`, `scheduled`, `blocked` or `running`.
    package var state: JobState
    /// For running jobs, the pool whose worker runs them.
    package var pool: JobRole?
    /// How many jobs.
    package var count: Int
}

extension Store {
    /// Unfinished jobs by lane and state, and running ones by lane and pool, for every engine on the file. One read
    /// that scans the `jobs` table: the engine makes it periodically (at most once a second), never on the hot path.
    package func queueDepths() async throws -> [QueueDepth] {
        try await read { db in
            try Row.fetchAll(db, sql: Self.queueDepthSQL).map { row in
                QueueDepth(
                    lane: row[0], state: try decodeEnum(row[1], table: "jobs"), pool: (row[2] as String?).flatMap(JobRole.init(rawValue:)),
                    count: row[3]
                )
            }
        }
    }

    static let queueDepthSQL = """
        SELECT lane, state, CASE WHEN state = 'running' THEN pool END AS pool, COUNT(*) FROM jobs
        WHERE state IN ('blocked', 'ready', 'scheduled', 'running')
        GROUP BY lane, state, 3
        """
}
