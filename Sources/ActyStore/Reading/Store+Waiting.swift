package import ActyCore
import GRDB

/// Where the unfinished work of a database stands, as ``Store/unfinishedWork(executors:resultHandlers:)`` reads it: enough for
/// `drain()` to know whether to keep waiting, with lookups that stop at the first matching row.
package struct UnfinishedWork: Sendable, Hashable {
    /// Some job is running (leased to an engine, live or not yet rescued).
    package var isRunning: Bool
    /// Some job is ready or scheduled, or a blocked group waits for a dependency with a timeout (which frees it at
    /// the latest when it is due).
    package var isWaiting: Bool
    /// Some ready job of a lane that is not paused, or some scheduled job, has one of the given executors (and no
    /// result handler, or one of the given ones): a live engine can run it.
    package var isRunnable: Bool

    /// No job is ready, scheduled or running.
    package var isDone: Bool { !isRunning && !isWaiting }
}

extension BackendStore {
    /// Reads where the unfinished work stands, in one read transaction.
    ///
    /// Blocked followers are not looked at: one whose primer is pending becomes ready when that primer (ready,
    /// scheduled or running, so counted here) succeeds; the others wait for something only a user can do (an open
    /// group's primer or `close()`, a retry). Groups blocked by dependencies count while one of their dependencies
    /// has a timeout (it will resolve); one that waits without timeout becomes ready in the transaction that
    /// finishes its dependency, or waits for a group only a user can submit.
    ///
    /// Cost: each answer is an indexed lookup that stops at its first row (`jobs_running`, `jobs_ready` by role and
    /// lane, `jobs_scheduled`). Only ``UnfinishedWork/isRunnable`` may read past rows, the ready jobs whose executor
    /// no live engine has, and only while nothing runs.
    ///
    /// - Parameters:
    ///   - executors: the executors of the live engines.
    ///   - resultHandlers: the result handlers of the live engines: a job whose group names another is not runnable.
    package func unfinishedWork(executors: Set<String>, resultHandlers: Set<String> = []) async throws -> UnfinishedWork {
        try await read { db in
            let isRunning = try db.fetchOne({ $0.int64(0) != 0 }, sql: StoreSQL.anyRunningSQL) ?? false
            let isWaiting = try db.fetchOne({ $0.int64(0) != 0 }, sql: StoreSQL.anyWaitingSQL) ?? false
            let timeoutPending = try db.fetchOne({ $0.int64(0) != 0 }, sql: StoreSQL.anyDependencyTimeoutSQL) ?? false
            var work = UnfinishedWork(isRunning: isRunning, isWaiting: isWaiting || timeoutPending, isRunnable: timeoutPending)
            guard isWaiting, !isRunning, !executors.isEmpty, !timeoutPending else { return work }
            let names = Array(executors)
            let handlers = Array(resultHandlers)
            let scheduled = StoreSQL.runnableScheduledSQL(executorCount: names.count, resultHandlerCount: handlers.count)
            if try db.fetchOne({ _ in true }, sql: scheduled, arguments: names + handlers) != nil {
                work.isRunnable = true
                return work
            }
            // Lane by lane and role by role, as a claim looks: the `jobs_ready` index finds each lane's jobs.
            let ready = TransitionSQL.claimSQL(executorCount: names.count, resultHandlerCount: handlers.count)
            for lane in try db.fetchAll({ $0.string(0) }, sql: "SELECT name FROM lanes WHERE paused = 0") {
                for role in JobRole.allCases {
                    let arguments: [any SQLArgument] = [role.rawValue, lane] + names + handlers + [1]
                    if try db.fetchOne({ _ in true }, sql: ready, arguments: arguments) != nil {
                        work.isRunnable = true
                        return work
                    }
                }
            }
            return work
        }
    }

    /// Ready and scheduled jobs whose executor is not one of `executors`, counted by executor: work no live engine
    /// can run. Reads every ready and scheduled job (through their partial indexes): for a warning now and then,
    /// not for a hot path.
    ///
    /// - Parameter executors: the executors of the live engines.
    package func jobsWaitingForExecutors(notIn executors: Set<String>) async throws -> [String: Int] {
        try await waitingJobCounts(excluding: executors, StoreSQL.waitingForExecutorsSQL)
    }

    /// Ready and scheduled jobs whose group's result handler is not one of `resultHandlers`, counted by handler:
    /// work no live engine can run. Like ``jobsWaitingForExecutors(notIn:)``, for a warning now and then.
    ///
    /// - Parameter resultHandlers: the result handlers of the live engines.
    package func jobsWaitingForResultHandlers(notIn resultHandlers: Set<String>) async throws -> [String: Int] {
        try await waitingJobCounts(excluding: resultHandlers, StoreSQL.waitingForResultHandlersSQL)
    }

    /// Ready and scheduled jobs counted by the name `sql` groups them by, leaving out `names`.
    private func waitingJobCounts(
        excluding names: Set<String>, _ sql: @escaping @Sendable (_ state: JobState, _ excludedCount: Int) -> String
    ) async throws -> [String: Int] {
        try await read { db in
            let names = Array(names)
            var counts: [String: Int] = [:]
            for state in [JobState.ready, .scheduled] {
                for (name, count) in try db.fetchAll({ ($0.string(0), $0.int(1)) }, sql: sql(state, names.count), arguments: names) {
                    counts[name, default: 0] += count
                }
            }
            return counts
        }
    }

    /// Groups in one state, at most `limit`: live groups (`open`, `closed`) newest first, finished ones most
    /// recently finished first. Served by the `groups_state` index, whose order this is.
    package func groups(state: GroupState, limit: Int) async throws -> [GroupRecord] {
        try await read { db in
            try db.fetchAll(GroupRecord.init, sql: StoreSQL.groupsInStateSQL, arguments: [state.rawValue, limit])
        }
    }

    /// Records that jobs wait for an executor no live engine has: `executor_missing` with the executor's name, how
    /// many ready or scheduled jobs need it and the executors the recording engine has.
    package func recordExecutorMissing(_ executor: String, jobs: Int, registered: [String], worker: String) async throws {
        _ = try await write(worker: worker) { context in
            let data = JSONValue.object([
                "executor": .string(executor), "jobs": .number(Double(jobs)), "registered": .array(registered.map { .string($0) }),
            ])
            try context.record(.executorMissing, data: data.jsonString)
        }
    }
}

extension BackendStore {
    // The partial indexes are named: with statistics saying most jobs are ready, SQLite would rather scan the
    // table, which costs every finished job once none is ready.

}

extension StoreSQL {
    /// Whether a job runs, from the `jobs_running` index.
    static let anyRunningSQL = "SELECT EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_running WHERE state = 'running')"

    /// Whether a job is ready or scheduled, from the `jobs_ready` and `jobs_scheduled` indexes.
    static let anyWaitingSQL = """
        SELECT EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_ready WHERE state = 'ready')
            OR EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled')
        """

    /// Whether a dependency with a timeout is waiting, from the `group_dependencies_due` index.
    static let anyDependencyTimeoutSQL = """
        SELECT EXISTS (SELECT 1 FROM group_dependencies INDEXED BY group_dependencies_due WHERE state = 'waiting' AND due_at IS NOT NULL)
        """

    /// A scheduled job with one of `executorCount` executors and no result handler or one of `resultHandlerCount`,
    /// walking the `jobs_scheduled` index.
    static func runnableScheduledSQL(executorCount: Int, resultHandlerCount: Int) -> String {
        let handlers =
            resultHandlerCount == 0
            ? "result_handler IS NULL" : "(result_handler IS NULL OR result_handler IN (\(placeholders(resultHandlerCount))))"
        return """
            SELECT 1 FROM jobs INDEXED BY jobs_scheduled
            WHERE state = 'scheduled' AND executor IN (\(placeholders(executorCount))) AND \(handlers) LIMIT 1
            """
    }

    /// Jobs of one waiting state (ready or scheduled) by executor, leaving out `excludedCount` executors, through the
    /// state's partial index.
    static func waitingForExecutorsSQL(state: JobState, excludedCount: Int) -> String {
        let filter = excludedCount == 0 ? "" : " AND executor NOT IN (\(placeholders(excludedCount)))"
        let index = state == .ready ? "jobs_ready" : "jobs_scheduled"
        return "SELECT executor, COUNT(*) FROM jobs INDEXED BY \(index) WHERE state = '\(state.rawValue)'\(filter) GROUP BY executor"
    }

    /// Jobs of one waiting state with a result handler, by handler, leaving out `excludedCount` handlers, through the
    /// state's partial index.
    static func waitingForResultHandlersSQL(state: JobState, excludedCount: Int) -> String {
        let filter = excludedCount == 0 ? "" : " AND result_handler NOT IN (\(placeholders(excludedCount)))"
        let index = state == .ready ? "jobs_ready" : "jobs_scheduled"
        return """
            SELECT result_handler, COUNT(*) FROM jobs INDEXED BY \(index)
            WHERE state = '\(state.rawValue)' AND result_handler IS NOT NULL\(filter) GROUP BY result_handler
            """
    }

    /// Groups in one state, served by `groups_state (state, finished_at)` in its order.
    static let groupsInStateSQL = GroupRecord.selection + " WHERE state = ? ORDER BY finished_at DESC, id DESC LIMIT ?"

    fileprivate static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}
