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

extension BackendStore {
    /// Unfinished jobs by lane and state, and running ones by lane and pool, for every engine on the file. One read
    /// that scans the `jobs` table: the engine makes it periodically (at most once a second), never on the hot path.
    package func queueDepths() async throws -> [QueueDepth] {
        try await read { db in
            try db.fetchAll({ row in
                QueueDepth(
                    lane: row.string(0), state: try decodeEnum(row.string(1), table: "jobs"),
                    pool: row.optionalString(2).flatMap(JobRole.init(rawValue:)), count: row.int(3)
                )
            }, sql: StoreSQL.queueDepthSQL)
        }
    }

}

extension StoreSQL {
    static let queueDepthSQL = """
        SELECT lane, state, CASE WHEN state = 'running' THEN pool END AS pool, COUNT(*) FROM jobs
        WHERE state IN ('blocked', 'ready', 'scheduled', 'running')
        GROUP BY lane, state, 3
        """
}
