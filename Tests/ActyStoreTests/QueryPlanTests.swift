import ActyCore
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// Every hot statement of the store is served by an index: no full scan of `jobs` or `groups`, no temporary
/// B-tree (a sort of the backlog), at any queue depth. The SQL is the store's own, read from its constants.
@Suite(.timeLimit(.minutes(1)))
struct QueryPlanTests {
    /// A statement to check, with arguments of the right count.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var sql: String
        var arguments: StatementArguments
        /// Indexes the plan may use, one of which it must use (`nil`: any index or the primary key).
        var indexes: [String]?
        /// Whether scanning a (partial) index is acceptable: it then holds only a bounded set of rows.
        var allowsIndexScan = false

        var testDescription: String { name }
    }

    static let hotStatements: [Case] = [
        Case(
            name: "claim",
            sql: TransitionSQL.claimSQL(executorCount: 2, resultHandlerCount: 0),
            arguments: ["follower", "a", "echo", "other", 8],
            indexes: ["jobs_ready"]
        ),
        Case(
            name: "claim, one executor", sql: TransitionSQL.claimSQL(executorCount: 1, resultHandlerCount: 0),
            arguments: ["primer", "b", "echo", 64], indexes: ["jobs_ready"]
        ),
        Case(name: "lease", sql: TransitionSQL.leaseSQL, arguments: [1, "w1", 1e10, 1e9, "follower", 17]),
        Case(name: "complete: succeed", sql: TransitionSQL.succeedSQL, arguments: ["{}", 1e9, 17, "w1", 1]),
        Case(name: "complete: fail", sql: TransitionSQL.failSQL, arguments: ["{}", 1e9, 17, "w1", 1]),
        Case(name: "release followers", sql: TransitionSQL.releaseFollowersSQL, arguments: ["ready", Double?.none, 3, -1, Int64.max], indexes: ["jobs_group"]),
        Case(
            name: "cancel not started", sql: TransitionSQL.cancelNotStartedSQL,
            arguments: ["{}", 1e9, 3], indexes: ["jobs_group"]
        ),
        Case(name: "group counts", sql: TransitionSQL.groupJobCountsSQL, arguments: [3], indexes: ["jobs_group"]),
        Case(name: "group row", sql: TransitionSQL.groupRowSQL, arguments: [3]),
        Case(name: "claimed job's group", sql: TransitionSQL.claimedGroupSQL, arguments: [3]),
        Case(
            name: "claim, with result handlers", sql: TransitionSQL.claimSQL(executorCount: 1, resultHandlerCount: 2),
            arguments: ["primer", "b", "echo", "JSONRepairHandler", "other", 64], indexes: ["jobs_ready"]
        ),
        Case(name: "complete: resubmit", sql: TransitionSQL.resubmitSQL, arguments: ["ready", nil, "{}", nil, 17, "w1", 1]),
        Case(name: "live key check", sql: TransitionSQL.liveKeySQL, arguments: ["a-7"], indexes: ["groups_live_key", "groups_key"]),
        Case(name: "group by key", sql: GroupRecord.latestByKeySQL, arguments: ["a-7"], indexes: ["groups_key"]),
        Case(name: "live group by key", sql: GroupRecord.liveByKeySQL, arguments: ["a-7"], indexes: ["groups_live_key", "groups_key"]),
        Case(
            name: "running jobs of a lane", sql: TransitionSQL.runningInLaneSQL, arguments: ["a"],
            indexes: ["jobs_running"], allowsIndexScan: true
        ),
        Case(name: "groups in a state", sql: StoreSQL.groupsInStateSQL, arguments: ["open", 100], indexes: ["groups_state"]),
        // acty-tui follow, every refresh: the events after the last one seen, with their group and job.
        Case(name: "events after a seq", sql: StoreSQL.eventsAfterSQL, arguments: [10, 1000]),
        Case(name: "event time by seq", sql: ReadOnlyStore.eventAtSQL, arguments: [10]),
        // acty-tui follow, once when it starts late: groups by state from their index alone (the job counts are one
        // pass over `jobs` at that start; a refresh reads only the events above and `workers`).
        Case(
            name: "follow: groups by state", sql: ReadOnlyStore.followGroupCountsSQL, arguments: [],
            indexes: ["groups_state"], allowsIndexScan: true
        ),
        Case(
            name: "follow: scheduled jobs", sql: ReadOnlyStore.followScheduledJobsSQL, arguments: [],
            indexes: ["jobs_scheduled"], allowsIndexScan: true
        ),
        // Group dependencies: each claim, submission call and group finish pays one of these probes.
        Case(
            name: "dependencies: earliest timeout", sql: TransitionSQL.earliestTimeoutSQL, arguments: [],
            indexes: ["group_dependencies_due"], allowsIndexScan: true
        ),
        Case(
            name: "dependencies: due timeouts", sql: TransitionSQL.dueDependenciesSQL, arguments: [1e9],
            indexes: ["group_dependencies_due"]
        ),
        Case(
            name: "dependencies: any waiting for a new key", sql: TransitionSQL.anyUnboundSQL, arguments: [],
            indexes: ["group_dependencies_waiting_key", "group_dependencies_waiting_group"], allowsIndexScan: true
        ),
        Case(
            name: "dependencies: bind to a new group", sql: TransitionSQL.bindWaitingSQL, arguments: [7, "a-7"],
            indexes: ["group_dependencies_waiting_key"]
        ),
        Case(
            name: "dependencies: waiting for a key", sql: TransitionSQL.waitsForKeySQL, arguments: ["a-7"],
            indexes: ["group_dependencies_waiting_key"]
        ),
        Case(
            name: "dependencies: waiting for a group", sql: TransitionSQL.waitingOnGroupSQL, arguments: [3],
            indexes: ["group_dependencies_waiting_group"]
        ),
        Case(name: "dependencies: resolve one", sql: TransitionSQL.resolveSQL, arguments: ["done", "succeeded", 1e9, 3, "a-7"]),
        Case(name: "dependencies: a group's waiting", sql: TransitionSQL.waitingDependenciesSQL, arguments: [3]),
        Case(name: "dependencies: newest group of a key", sql: TransitionSQL.newestGroupSQL, arguments: ["a-7"], indexes: ["groups_key"]),
        Case(name: "dependencies: unblock a primer", sql: TransitionSQL.readyPrimerSQL, arguments: [3], indexes: ["jobs_group"]),
        Case(name: "dependencies: fail not started", sql: TransitionSQL.failNotStartedSQL, arguments: ["{}", 1e9, 3], indexes: ["jobs_group"]),
        // Admission reads partial indexes of at most the cap (active) or the waiting groups (pending).
        Case(
            name: "admission: active groups", sql: TransitionSQL.activeCountSQL, arguments: [], indexes: ["groups_admission_active"],
            allowsIndexScan: true
        ),
        Case(name: "admission: next group", sql: TransitionSQL.nextWaitingSQL, arguments: [], indexes: ["groups_admission_pending"]),
        Case(name: "admission: pending groups", sql: TransitionSQL.pendingCountSQL, arguments: []),
        Case(name: "admission: ready jobs", sql: TransitionSQL.readyCountSQL, arguments: [8], indexes: ["jobs_ready"], allowsIndexScan: true),
    ]

    /// Statements that look at waiting work (drain, missing executors): they may walk a partial index of waiting or
    /// running jobs, or sort what they count, but never scan the whole `jobs` table.
    static let waitingWorkStatements: [Case] = [
        Case(name: "any running", sql: StoreSQL.anyRunningSQL, arguments: [], indexes: ["jobs_running"]),
        Case(name: "any waiting", sql: StoreSQL.anyWaitingSQL, arguments: [], indexes: ["jobs_ready", "jobs_scheduled"]),
        Case(
            name: "runnable scheduled", sql: StoreSQL.runnableScheduledSQL(executorCount: 2, resultHandlerCount: 1), arguments: ["echo", "x", "h"],
            indexes: ["jobs_scheduled"]
        ),
        Case(
            name: "ready by result handler", sql: StoreSQL.waitingForResultHandlersSQL(state: .ready, excludedCount: 1), arguments: ["h"],
            indexes: ["jobs_ready"]
        ),
        Case(
            name: "ready by executor", sql: StoreSQL.waitingForExecutorsSQL(state: .ready, excludedCount: 2), arguments: ["echo", "x"],
            indexes: ["jobs_ready"]
        ),
        Case(
            name: "scheduled by executor", sql: StoreSQL.waitingForExecutorsSQL(state: .scheduled, excludedCount: 0), arguments: [],
            indexes: ["jobs_scheduled"]
        ),
        Case(
            name: "summary: jobs missing an executor", sql: ReadOnlyStore.jobsMissingExecutorSQL, arguments: [],
            indexes: ["jobs_ready", "jobs_scheduled"]
        ),
        Case(
            name: "summary: jobs missing a result handler", sql: ReadOnlyStore.jobsMissingResultHandlerSQL, arguments: [],
            indexes: ["jobs_ready", "jobs_scheduled"]
        ),
    ]

    /// A store with 4,000 jobs in lanes `a` and `b`: mostly ready followers, some primers, running, finished.
    static func withLoadedStore(analyzed: Bool, _ body: (Store) async throws -> Void) async throws {
        try await withStore { store, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in ["a", "b"] {
                    for index in 0..<50 {
                        group.addTask {
                            let followers = (0..<39).map { NewJob.echo(#"{"n":\#($0)}"#, priority: $0 % 3) }
                            let newGroup = NewGroup(
                                key: "\(lane)-\(index)", lane: lane, primer: .echo(), followers: followers, isClosed: index % 5 != 0
                            )
                            _ = try await store.submitGroup(newGroup, worker: "w1")
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await store.database.write { db in
                try db.execute(sql: """
                    UPDATE jobs SET state = 'ready' WHERE state = 'blocked' AND group_id % 4 != 0;
                    UPDATE jobs SET state = 'running', lease_owner = 'w1', lease_until = 1e10, attempts = 1 WHERE id % 97 = 0;
                    UPDATE jobs SET state = 'succeeded', finished_at = 1 WHERE role = 'primer' AND group_id % 3 = 0;
                    UPDATE jobs SET state = 'scheduled', run_at = 1 WHERE id % 211 = 0;
                    UPDATE groups SET state = 'succeeded', finished_at = 1 WHERE id % 10 = 0;
                    """)
                if analyzed { try db.execute(sql: "ANALYZE") }
            }
            let ready = try await store.database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM jobs WHERE state = 'ready'") }
            #expect((ready ?? 0) > 2_500)
            try await body(store)
        }
    }

    static func plan(of statement: Case, in store: Store) async throws -> [String] {
        try await store.database.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + statement.sql, arguments: statement.arguments).map { $0["detail"] }
        }
    }

    static func check(_ plan: [String], for statement: Case) {
        let text = plan.joined(separator: "\n")
        #expect(!text.contains("TEMP B-TREE"), "\(statement.name) sorts in a temporary B-tree:\n\(text)")
        for line in plan {
            let isTableScan = line.hasPrefix("SCAN jobs") || line.hasPrefix("SCAN groups") || line.hasPrefix("SCAN group_dependencies")
            let isIndexScan = line.contains(" USING INDEX") || line.contains(" USING COVERING INDEX")
            #expect(!isTableScan || (statement.allowsIndexScan && isIndexScan), "\(statement.name) scans:\n\(text)")
        }
        // `USING PRIMARY KEY` is the key of a WITHOUT ROWID table, an index itself.
        let indexed = ["USING INDEX", "USING COVERING INDEX", "INTEGER PRIMARY KEY", "USING PRIMARY KEY"]
        let searches = plan.contains { line in line.hasPrefix("SEARCH") && indexed.contains { line.contains($0) } }
        #expect(searches || statement.allowsIndexScan, "\(statement.name) uses no index:\n\(text)")
        if let indexes = statement.indexes {
            let used = indexes.contains { index in plan.contains { $0.contains("INDEX \(index) ") || $0.hasSuffix("INDEX \(index)") } }
            #expect(used, "\(statement.name) uses none of \(indexes):\n\(text)")
        }
    }

    // EXPLAIN QUERY PLAN does not run the statement, so one loaded store serves every case.
    @Test(arguments: [false, true])
    func hotStatementsUseIndexes(analyzed: Bool) async throws {
        try await Self.withLoadedStore(analyzed: analyzed) { store in
            for statement in Self.hotStatements {
                let plan = try await Self.plan(of: statement, in: store)
                Self.check(plan, for: statement)
            }
        }
    }

    @Test(arguments: [false, true])
    func waitingWorkIsReadThroughPartialIndexes(analyzed: Bool) async throws {
        try await Self.withLoadedStore(analyzed: analyzed) { store in
            for statement in Self.waitingWorkStatements {
                Self.checkReadsOnlyIndexes(try await Self.plan(of: statement, in: store), for: statement)
            }
        }
    }

    /// No full scan of `jobs`, and every index of the case is used.
    static func checkReadsOnlyIndexes(_ plan: [String], for statement: Case) {
        let text = plan.joined(separator: "\n")
        #expect(!plan.contains { $0.hasPrefix("SCAN jobs") && !$0.contains("INDEX") }, "\(statement.name) scans jobs:\n\(text)")
        let indexes = statement.indexes ?? []
        let used = indexes.allSatisfy { index in plan.contains { $0.contains("INDEX \(index)") } }
        #expect(used, "\(statement.name) does not use all of \(indexes):\n\(text)")
    }

    @Test func claimWalksTheReadyIndexInClaimOrder() async throws {
        try await Self.withLoadedStore(analyzed: true) { store in
            let plan = try await Self.plan(of: Self.hotStatements[0], in: store)
            #expect(plan.contains { $0.hasPrefix("SEARCH jobs USING INDEX jobs_ready (role=? AND lane=?)") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
            let lease = try await Self.plan(of: Self.hotStatements[2], in: store)
            #expect(lease.contains { $0.contains("SEARCH jobs USING INTEGER PRIMARY KEY (rowid=?)") }, "\(lease)")
        }
    }

    @Test func planCheckRejectsSortsAndScans() async throws {
        // The checker itself: a claim ordered against the index sorts, a lookup by an unindexed column scans.
        try await Self.withLoadedStore(analyzed: false) { store in
            let sorted = Case(
                name: "ascending priority", sql: "SELECT id FROM jobs WHERE state = 'ready' AND role = ? AND lane = ? ORDER BY priority, id LIMIT 8",
                arguments: ["follower", "a"]
            )
            let scanned = Case(name: "by payload", sql: "SELECT id FROM jobs WHERE payload = ?", arguments: ["{}"])
            let sortedPlan = try await Self.plan(of: sorted, in: store)
            let scannedPlan = try await Self.plan(of: scanned, in: store)
            #expect(sortedPlan.joined().contains("TEMP B-TREE"))
            #expect(scannedPlan.contains("SCAN jobs"))
        }
    }
}
