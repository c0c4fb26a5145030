import ActyCore

extension WriteContext {
    /// Records an attempt whose result handler asked for another one: the job goes back to `ready` with the new
    /// payload (the submitted one is kept in `original_payload`), the attempt's row says `resubmitted` with the
    /// handler's reason and the new payload, and `job_resubmitted` is recorded. The job's group and followers are
    /// untouched: a resubmitted primer keeps its followers waiting. A delayed resubmit waits in `scheduled` like a retry.
    ///
    /// Like every outcome, it counts only while the job is still leased to `worker` for that attempt. The new
    /// payload is in the database before the next attempt can be claimed, so a restart resumes with it.
    mutating func resubmit(_ job: ClaimedJob, _ resubmit: Completion.Resubmit, usage: TokenUsage?, at: Double, worker: String) throws {
        let runAt = resubmit.delay > 0 ? at + resubmit.delay : nil
        try db.cachedStatement(sql: TransitionSQL.resubmitSQL).run {
            $0.add(runAt == nil ? "ready" : "scheduled"); $0.add(runAt); $0.add(resubmit.payload); $0.add(resubmit.context)
            $0.add(job.id.rawValue); $0.add(worker); $0.add(job.attempt)
        }
        guard db.changesCount == 1 else {
            effects.unrecordedCompletions.append(job.id)
            return
        }
        if let usage { try debitTokens(usage, of: job) }
        let duration = max(0, at - job.startedAt)
        try db.cachedStatement(sql: TransitionSQL.resubmittedAttemptSQL).run {
            $0.add(job.id.rawValue); $0.add(job.attempt); $0.add(worker); $0.add(job.pool.rawValue); $0.add(job.startedAt)
            $0.add(at); $0.add(duration); $0.add(resubmit.reason); $0.add(resubmit.payload)
            $0.add(usage?.promptTokens); $0.add(usage?.completionTokens); $0.add(usage?.cachedPromptTokens)
        }
        var data: [String: JSONValue] = [
            "attempt": .number(Double(job.attempt)), "handler": .string(resubmit.handler), "reason": .string(resubmit.reason),
            "result_handler_attempt": .number(Double(job.resubmits + 1)), "duration": .number(duration),
        ]
        if let runAt { data["delay"] = .number(runAt - at) }
        if resubmit.context != nil { data["context_policy"] = .string(resubmit.contextPolicy) }
        if let usage { data["usage"] = try JSONValue(jsonString: usage.jsonString) }
        try record(.jobResubmitted, job.ref, pool: job.pool, data: JSONValue.object(data).jsonString)
        if let runAt {
            effects.retryDue(at: runAt)
        } else {
            effects.readyWork.insert(WorkKind(role: job.role, lane: job.lane))
        }
    }
}

extension TransitionSQL {
    /// Puts a resubmitted job back in the queue (`ready`, or `scheduled` until `run_at` after a delay) with its new
    /// payload and context, if it is still leased to the worker for that attempt. SQLite evaluates every expression
    /// of an UPDATE on the old row: `original_payload` takes the payload being replaced, the first time only.
    static let resubmitSQL = """
        UPDATE jobs SET state = ?, run_at = ?, payload = ?, resubmit_context = ?, original_payload = COALESCE(original_payload, payload),
            resubmits = resubmits + 1, error = NULL, lease_owner = NULL, lease_until = NULL, pool = NULL
        WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?
        """

    /// The row of a resubmitted attempt.
    static let resubmittedAttemptSQL = """
        INSERT INTO attempts (
            job_id, number, worker, pool, started_at, finished_at, outcome, duration, reason, payload, prompt_tokens, completion_tokens,
            cached_prompt_tokens
        )
        VALUES (?, ?, ?, ?, ?, ?, 'resubmitted', ?, ?, ?, ?, ?, ?)
        """
}
