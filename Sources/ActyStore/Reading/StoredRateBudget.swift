package import ActyCore
import GRDB

/// A `rate_limits` row (migrations/0010) as of a moment: its budget refilled to then, with the jobs it covers that
/// are running. The claim applies it; the tools show it.
package struct StoredRateBudget: Sendable {
    /// The limit and what is left of it.
    package var budget: RateBudget
    /// Whether the budget held jobs back at the last claim.
    package var throttled: Bool
    /// Whether refilling made a lowered budget whole again (not stored yet).
    package var restored: Bool

    /// Every budget, by executor and lane, refilled to `now`; only those covering `job`'s executor and lane when
    /// given, and then without counting running jobs (spending tokens or lowering a budget does not need them).
    static func all(in db: some SQLConnection, now: Double, covering job: (executor: String, lane: String)? = nil) throws -> [StoredRateBudget] {
        var budgets: [StoredRateBudget] = []
        try db.cachedStatement(sql: selectSQL).forEachRow { _ in } _: { row in
            let lane = row.string(1)
            let limit = RateLimit(
                executor: row.string(0), lane: lane.isEmpty ? nil : lane, requestsPerMinute: row.optionalDouble(2),
                tokensPerMinute: row.optionalDouble(3), maxInflight: row.optionalInt(4), burst: row.optionalInt(5),
                cooldown: .seconds(row.double(6))
            )
            let budget = RateBudget(
                limit: limit, requests: row.double(7), tokens: row.double(8), refilledAt: row.double(9), slowdown: row.double(10),
                slowUntil: row.optionalDouble(11), pausedUntil: row.optionalDouble(12), running: 0
            )
            if let job, !limit.covers(executor: job.executor, lane: job.lane) { return }
            budgets.append(StoredRateBudget(budget: budget, throttled: row.int(13) != 0, restored: false))
        }
        // Few jobs run at once (no more than the workers of all processes): counting them through the
        // `jobs_running` index is cheap.
        for index in budgets.indices {
            let limit = budgets[index].budget.limit
            if job != nil {
                budgets[index].restored = budgets[index].budget.refill(now: now)
                continue
            }
            try db.cachedStatement(sql: limit.lane == nil ? runningSQL : runningInLaneSQL).forEachRow { arguments in
                arguments.add(limit.executor)
                if let lane = limit.lane { arguments.add(lane) }
            } _: { budgets[index].budget.running = $0.int(0) }
            budgets[index].restored = budgets[index].budget.refill(now: now)
        }
        return budgets
    }

    private static let selectSQL = """
        SELECT executor, lane, requests_per_minute, tokens_per_minute, max_inflight, burst, cooldown, requests, tokens, refilled_at,
            slowdown, slow_until, paused_until, throttled
        FROM rate_limits ORDER BY executor, lane
        """
    private static let runningSQL = "SELECT COUNT(*) FROM jobs INDEXED BY jobs_running WHERE state = 'running' AND executor = ?"
    private static let runningInLaneSQL =
        "SELECT COUNT(*) FROM jobs INDEXED BY jobs_running WHERE state = 'running' AND executor = ? AND lane = ?"
}

extension BackendStore {
    /// Every rate limit's budget as of now.
    package func rateLimits() async throws -> [RateBudget] {
        let now = WallClock.now
        return try await read { db in try StoredRateBudget.all(in: db, now: now).map(\.budget) }
    }
}

extension ReadOnlyStore {
    /// Rate limits, by executor and lane, as of `now`. Columns: `executor, lane` ('*' for every lane),
    /// `requests_per_minute, tokens_per_minute, max_inflight, burst, running, requests_left, tokens_left, allowed_now`
    /// (jobs that may start now), `slowdown` (1, or the share in force after a provider refused), `paused_until`,
    /// `slow_until`, `throttled` (0/1: it held jobs back at the last claim).
    package func rateLimits(now: Double? = nil) throws -> QueryTable {
        let now = now ?? WallClock.now
        let columns = [
            "executor", "lane", "requests_per_minute", "tokens_per_minute", "max_inflight", "burst", "running", "requests_left", "tokens_left",
            "allowed_now", "slowdown", "paused_until", "slow_until", "throttled",
        ]
        let budgets = try read { db in try StoredRateBudget.all(in: db, now: now) }
        let number = { (value: Double?) in value.map(JSONValue.number) ?? .null }
        let rows = budgets.map { stored -> [JSONValue] in
            let budget = stored.budget
            let limit = budget.limit
            let allowed = budget.allowance(now: now)
            return [
                .string(limit.executor), .string(limit.lane ?? "*"), number(limit.requestsPerMinute), number(limit.tokensPerMinute),
                number(limit.maxInflight.map(Double.init)), number(limit.requestCapacity), .number(Double(budget.running)),
                limit.requestsPerMinute == nil ? .null : .number((budget.requests * 100).rounded() / 100),
                limit.tokensPerMinute == nil ? .null : .number(budget.tokens.rounded()),
                allowed == Int.max ? .string("unlimited") : .number(Double(allowed)), .number(budget.slowdown), number(budget.pausedUntil),
                number(budget.slowUntil), .number(stored.throttled ? 1 : 0),
            ]
        }
        return QueryTable(columns: columns, rows: rows)
    }
}
