import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// How long an engine takes to start working on a big database with many expired leases to rescue.
///
/// A measurement, not a check: it prints its numbers and asserts only that every expired job was rescued. It takes
/// about 2 s (debug build, most of it building the two databases), so it runs by default.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct RecoveryMeasurementTests {
    private static let queuedGroups = 10_000
    private static let followersPerGroup = 9
    private static let expiredJobs = 1_000

    @Test
    func timeToFirstJobWithManyQueuedAndExpiredJobs() async throws {
        let dir = TemporaryDirectory()
        let setupStart = ContinuousClock.now
        for name in ["engine.db", "store.db"] {
            try await Store(.file(dir.file(name))).close()  // creates the schema
            try executeSQL(dir.file(name), Self.setupSQL(now: Date().timeIntervalSince1970))
        }
        let setup = ContinuousClock.now - setupStart

        // The rescue alone: one call, as the engine's rescuer makes it at start.
        let store = try Store(.file(dir.file("store.db")))
        let rescueStart = ContinuousClock.now
        let (rescued, _) = try await store.rescue(silentSince: Date().timeIntervalSince1970 - 30, deadWorkers: [], worker: nil)
        let rescueTime = ContinuousClock.now - rescueStart
        try await store.close()
        #expect(rescued == Self.expiredJobs)

        // The engine: from `init` to the first job running, and to the rescue being committed.
        let runs = Recorder<ContinuousClock.Instant>()
        let executor = ClosureExecutor(name: "measure") { job in
            runs.append(.now)
            return job.payload
        }
        let start = ContinuousClock.now
        let wallStart = Date().timeIntervalSince1970
        let engine = try await ActyEngine(database: .file(dir.file("engine.db")), executors: [executor])
        let initialised = ContinuousClock.now - start
        try await require("a first job to run", timeout: .seconds(60)) { runs.count > 0 }
        let firstRun = runs.values[0] - start
        var rescueCommitted: Duration?
        try await require("the expired jobs to be rescued", timeout: .seconds(60)) {
            let abandoned = try await engine.store.attempts().filter { $0.outcome == "abandoned" }
            if abandoned.count >= Self.expiredJobs, rescueCommitted == nil { rescueCommitted = ContinuousClock.now - start }
            return abandoned.count >= Self.expiredJobs
        }
        let rescueAt = try await engine.store.attempts().filter { $0.outcome == "abandoned" }.map(\.finishedAt!).min()!
        let jobsRunMeanwhile = runs.count
        try await engine.boundedShutdown(timeout: .seconds(60))

        func ms(_ duration: Duration) -> String { duration.formatted(.units(allowed: [.milliseconds])) }
        print(
            """
            RecoveryMeasurement: \(Self.queuedGroups * (1 + Self.followersPerGroup)) queued jobs + \(Self.expiredJobs) expired leases \
            (setup \(ms(setup))): Store.rescue alone \(ms(rescueTime)); engine init \(ms(initialised)), first job running \(ms(firstRun)), \
            rescue started \(String(format: "%.0f ms", (rescueAt - wallStart) * 1000)) and seen committed \(ms(rescueCommitted!)) \
            after init began (\(jobsRunMeanwhile) jobs run by then)
            """
        )
    }

    /// 10,000 closed groups of a ready primer and 9 blocked followers, plus a group whose primer succeeded and whose
    /// 1,000 followers are running under the expired leases of a worker on another host that stopped heartbeating.
    private static func setupSQL(now: Double) -> String {
        let groups = queuedGroups
        let expiredGroup = groups + 1
        return """
            INSERT OR IGNORE INTO lanes (name, weight, max_inflight, paused, created_at, updated_at) VALUES ('default', 1, NULL, 0, \(now), \(now));
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(groups))
            INSERT INTO groups (id, key, lane, state, primer_state, primer_policy, follower_policy, followers_total, jobs_total,
                jobs_finished, created_at, closed_at)
            SELECT i, 'queued-' || i, 'default', 'closed', 'pending', 'fail_group', 'fail_group', \(followersPerGroup),
                \(followersPerGroup + 1), 0, \(now), \(now) FROM n;
            INSERT INTO jobs (group_id, role, follower_index, executor, lane, state, payload, max_attempts, created_at)
            SELECT id, 'primer', NULL, 'measure', 'default', 'ready', '{}', 1, \(now) FROM groups ORDER BY id;
            WITH RECURSIVE f(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM f WHERE k < \(followersPerGroup - 1))
            INSERT INTO jobs (group_id, role, follower_index, executor, lane, state, payload, max_attempts, created_at)
            SELECT groups.id, 'follower', f.k, 'measure', 'default', 'blocked', '{}', 1, \(now) FROM groups, f ORDER BY groups.id, f.k;

            INSERT INTO workers (id, pid, host, started_at, heartbeat_at, primer_workers, follower_workers, executors)
            VALUES ('wgone', 1, 'another-host', \(now - 600), \(now - 120), 2, 8, '["measure"]');
            INSERT INTO groups (id, key, lane, state, primer_state, primer_policy, follower_policy, followers_total, jobs_total,
                jobs_finished, created_at, closed_at)
            VALUES (\(expiredGroup), 'expired', 'default', 'closed', 'succeeded', 'fail_group', 'fail_group', \(expiredJobs),
                \(expiredJobs + 1), 1, \(now - 600), \(now - 600));
            INSERT INTO jobs (group_id, role, follower_index, executor, lane, state, payload, attempts, max_attempts, created_at,
                started_at, finished_at, result)
            VALUES (\(expiredGroup), 'primer', NULL, 'measure', 'default', 'succeeded', '{}', 1, 3, \(now - 600), \(now - 590), \(now - 580), '{}');
            WITH RECURSIVE f(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM f WHERE k < \(expiredJobs - 1))
            INSERT INTO jobs (group_id, role, follower_index, executor, lane, state, payload, attempts, max_attempts, lease_owner,
                lease_until, pool, created_at, started_at)
            SELECT \(expiredGroup), 'follower', k, 'measure', 'default', 'running', '{}', 1, 3, 'wgone', \(now - 60), 'follower',
                \(now - 600), \(now - 150) FROM f;
            """
    }
}
