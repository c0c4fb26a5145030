import ActyCore

/// Rate limits (`EngineConfiguration.rateLimits`, migrations/0010): the budgets a claim spends before it leases a job.
///
/// The `rate_limits` rows are the whole state, read and written inside the write transaction, so engines sharing a
/// file share one budget. Without rows nothing of this runs but one probe of the empty table per claim.
extension WriteContext {
    /// Sets this engine's budgets: one row per limit, created full, or reconfigured keeping what is spent. Budgets of
    /// the engine's `executors` that its configuration no longer has are removed.
    mutating func configureRateLimits(_ limits: [RateLimit], executors: [String]) throws {
        let configured = Set(limits.map { RateLimitKey(executor: $0.executor, lane: $0.lane ?? "") })
        for executor in executors {
            var stale: [String] = []
            try db.cachedStatement(sql: "SELECT lane FROM rate_limits WHERE executor = ?").forEachRow { $0.add(executor) } _: { row in
                let lane = row.string(0)
                if !configured.contains(RateLimitKey(executor: executor, lane: lane)) { stale.append(lane) }
            }
            for lane in stale {
                try db.cachedStatement(sql: "DELETE FROM rate_limits WHERE executor = ? AND lane = ?").run { $0.add(executor); $0.add(lane) }
            }
        }
        for limit in limits {
            let full = RateBudget(limit: limit, now: now)
            try db.cachedStatement(sql: TransitionSQL.configureRateLimitSQL).run { [now] in
                $0.add(limit.executor); $0.add(limit.lane ?? ""); $0.add(limit.requestsPerMinute); $0.add(limit.tokensPerMinute)
                $0.add(limit.maxInflight); $0.add(limit.burst); $0.add(limit.cooldown.seconds); $0.add(full.requests); $0.add(full.tokens)
                $0.add(now); $0.add(now)
            }
        }
    }

    /// The budgets a claim applies, refilled to now. A budget that held jobs back and allows some again is marked
    /// open, with `rate_limit_restored` when its slowdown is over.
    mutating func loadRateLimits() throws -> ClaimLimiter {
        var limiter = ClaimLimiter()
        for stored in try StoredRateBudget.all(in: db, now: now) {
            var entry = ClaimLimiter.Entry(budget: stored.budget, throttled: stored.throttled)
            if stored.restored {
                entry.changed = true
                try recordRestored(stored.budget.limit)
            }
            if entry.throttled, entry.budget.allowance(now: now) > 0 {
                entry.throttled = false
                entry.changed = true
                limiter.reopened = true
            }
            limiter.budgets.append(entry)
        }
        return limiter
    }

    /// Writes back the budgets a claim spent or whose state changed, and asks for a claim when the earliest of those
    /// holding jobs back allows one again.
    mutating func saveRateLimits(_ limiter: inout ClaimLimiter) throws {
        for index in limiter.budgets.indices {
            let allowance = limiter.budgets[index].budget.allowance(now: now)
            if allowance == 0, !limiter.budgets[index].throttled {
                limiter.budgets[index].throttled = true
                limiter.budgets[index].changed = true
            }
            let entry = limiter.budgets[index]
            if entry.throttled, let at = entry.budget.nextAllowed(now: now) { effects.retryDue(at: at) }
            // A lowered budget eases back at `slow_until`: a claim then notices, also when no job comes by.
            if let at = entry.budget.slowUntil { effects.retryDue(at: at) }
            if entry.changed { try save(entry.budget, throttled: entry.throttled, restored: false) }
        }
    }

    /// Stores a budget's state; `restored` records that refilling it made a lowered budget whole again.
    private mutating func save(_ budget: RateBudget, throttled: Bool, restored: Bool) throws {
        try db.cachedStatement(sql: TransitionSQL.saveRateLimitSQL).run { [now] in
            $0.add(budget.requests); $0.add(budget.tokens); $0.add(budget.refilledAt); $0.add(budget.slowdown); $0.add(budget.slowUntil)
            $0.add(budget.pausedUntil); $0.add(throttled ? 1 : 0); $0.add(now); $0.add(budget.limit.executor); $0.add(budget.limit.lane ?? "")
        }
        if restored { try recordRestored(budget.limit) }
    }

    private mutating func recordRestored(_ limit: RateLimit) throws {
        try record(.rateLimitRestored, lane: limit.lane, data: #"{"executor":\#(JSONValue.string(limit.executor).jsonString)}"#)
    }

    /// Debits the tokens a finished attempt reported from the budgets that cover its job, refilled to now first so
    /// that the time the attempt ran on a full budget is not credited twice.
    mutating func debitTokens(_ usage: TokenUsage, of job: ClaimedJob) throws {
        guard usage.totalTokens > 0 else { return }
        for stored in try StoredRateBudget.all(in: db, now: now, covering: (job.executor, job.lane)) where stored.budget.limit.tokensPerMinute != nil {
            var budget = stored.budget
            budget.tokens -= Double(usage.totalTokens)
            try save(budget, throttled: stored.throttled, restored: stored.restored)
        }
    }

    /// A provider refused a job's call for load: its executor's budgets pause until the `Retry-After` and halve for a
    /// cooldown, with `rate_limited` for each.
    mutating func lowerRateLimits(for job: ClaimedJob, retryAfter: Double) throws {
        for stored in try StoredRateBudget.all(in: db, now: now, covering: (job.executor, job.lane)) {
            var budget = stored.budget
            budget.lower(retryAfter: retryAfter, now: now)
            try save(budget, throttled: true, restored: false)
            let data: JSONValue = [
                "executor": .string(job.executor), "limit_lane": budget.limit.lane.map(JSONValue.string) ?? .null,
                "retry_after": .number(retryAfter), "slowdown": .number(budget.slowdown), "paused_until": budget.pausedUntil.map(JSONValue.number) ?? .null,
            ]
            try record(.rateLimited, job.ref, pool: job.pool, data: data.jsonString)
        }
    }
}

/// A budget's identity: an executor, and a lane or '' for every lane.
struct RateLimitKey: Hashable {
    var executor: String
    var lane: String
}

/// The budgets one claim spends: which executors may start a job in a lane, and taking one.
struct ClaimLimiter {
    struct Entry {
        var budget: RateBudget
        var throttled: Bool
        var changed = false
    }

    var budgets: [Entry] = []
    /// A budget that held jobs back allows some again: lanes the planner set aside may have its jobs.
    var reopened = false

    var isEmpty: Bool { budgets.isEmpty }

    /// The executors of `executors` whose budgets for `lane` allow a job now, in order.
    func allowed(_ executors: [String], lane: String, now: Double) -> [String] {
        executors.filter { executor in
            budgets.allSatisfy { !$0.budget.limit.covers(executor: executor, lane: lane) || $0.budget.allowance(now: now) > 0 }
        }
    }

    /// Takes one job start of `executor` in `lane` from every budget that covers it; `false` (taking nothing) when one
    /// of them is spent.
    mutating func take(executor: String, lane: String, now: Double) -> Bool {
        let covering = budgets.indices.filter { budgets[$0].budget.limit.covers(executor: executor, lane: lane) }
        guard covering.allSatisfy({ budgets[$0].budget.allowance(now: now) > 0 }) else { return false }
        for index in covering {
            budgets[index].budget.take()
            budgets[index].changed = true
        }
        return true
    }
}

extension TransitionSQL {
    static let configureRateLimitSQL = """
        INSERT INTO rate_limits (
            executor, lane, requests_per_minute, tokens_per_minute, max_inflight, burst, cooldown, requests, tokens, refilled_at, slowdown,
            throttled, updated_at
        ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?)
        ON CONFLICT (executor, lane) DO UPDATE SET requests_per_minute = excluded.requests_per_minute,
            tokens_per_minute = excluded.tokens_per_minute, max_inflight = excluded.max_inflight, burst = excluded.burst,
            cooldown = excluded.cooldown, requests = MIN(requests, excluded.requests), tokens = MIN(tokens, excluded.tokens),
            updated_at = excluded.updated_at
        WHERE requests_per_minute IS NOT excluded.requests_per_minute OR tokens_per_minute IS NOT excluded.tokens_per_minute
            OR max_inflight IS NOT excluded.max_inflight OR burst IS NOT excluded.burst OR cooldown IS NOT excluded.cooldown
        """

    static let saveRateLimitSQL = """
        UPDATE rate_limits SET requests = ?, tokens = ?, refilled_at = ?, slowdown = ?, slow_until = ?, paused_until = ?, throttled = ?,
            updated_at = ?
        WHERE executor = ? AND lane = ?
        """
}
