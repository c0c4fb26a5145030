package import ActyCore

/// One event of a run, from either source the dashboard reads: a row of an Acty database's `events` table or a line
/// of a JSONL log in acty's envelope (ours, from `acty-query export-jsonl`, or Python acty's own).
///
/// Ids are strings because Python acty's are (`priority:g0:primer:1`); ours are the decimal job id.
package struct TUIEvent: Sendable, Hashable {
    /// Position in the log.
    package var seq: Int64
    /// When it happened, in Unix epoch seconds.
    package var at: Double
    /// The event's type as written (kept for unknown types and the event log).
    package var type: String
    /// The event's type, `.unknown` for a type neither implementation writes.
    package var kind: Kind
    /// The job, for job events.
    package var job: String?
    /// The group's key, for group and job events.
    package var group: String?
    /// The job's role (`kind` in acty's envelope).
    package var role: JobRole?
    /// The follower's index.
    package var follower: Int?
    /// The lane, when the event names one (envelope, payload or the payload's job context).
    package var lane: String?
    /// The worker pool that ran the job.
    package var pool: String?
    /// The engine process (our worker id; Python acty's run id).
    package var engine: String?
    /// The event's details.
    package var payload: JSONValue?

    package init(
        seq: Int64, at: Double, type: String, job: String? = nil, group: String? = nil, role: JobRole? = nil,
        follower: Int? = nil, lane: String? = nil, pool: String? = nil, engine: String? = nil, payload: JSONValue? = nil
    ) {
        self.seq = seq
        self.at = at
        self.type = type
        self.kind = Kind(rawValue: type) ?? .unknown
        self.job = job
        self.group = group
        self.role = role
        self.follower = follower
        self.lane = lane ?? payload?["lane"]?.stringValue ?? payload?["job_context"]?["lane"]?.stringValue
        self.pool = pool ?? payload?["pool"]?.stringValue
        self.engine = engine
        self.payload = payload
    }

    /// Event types of both implementations. Types only one of them writes are listed too, so that neither's logs
    /// count as unknown.
    package enum Kind: String, Sendable, Hashable, CaseIterable {
        case runStarted = "run_started", runFinished = "run_finished", workerStarted = "worker_started"
        case workerStopped = "worker_stopped", groupActivated = "group_activated", groupClosed = "group_closed"
        case followersReady = "followers_ready", primerFailed = "primer_failed", followerFailed = "follower_failed"
        case groupFailed = "group_failed", groupCancelled = "group_cancelled", groupDone = "group_done"
        case jobQueued = "job_queued", jobStarted = "job_started", jobSucceeded = "job_succeeded"
        case jobFailed = "job_failed", jobRetrying = "job_retrying", jobRescued = "job_rescued"
        case jobReleased = "job_released", jobCancelled = "job_cancelled", executorMissing = "executor_missing"
        case laneConfigsUpdated = "lane_configs_updated", cacheCreated = "cache_created", cacheHit = "cache_hit"
        case cacheInvalidated = "cache_invalidated", cacheExpired = "cache_expired", jobResubmitted = "job_resubmitted"
        case jobResultHandled = "job_result_handled", jobResultHandlerFailed = "job_result_handler_failed"
        // Python acty only.
        case jobRequeued = "job_requeued", jobRequeueDropped = "job_requeue_dropped", jobIgnored = "job_ignored"
        case jobRejected = "job_rejected"
        case runtimeStats = "runtime_stats", primerRetrying = "primer_retrying", followerRetrying = "follower_retrying"
        case warmDelayStart = "warm_delay_start", warmDelayEnd = "warm_delay_end", groupActionIgnored = "group_action_ignored"
        case groupAdmitted = "group_admitted", groupAdmitFailed = "group_admit_failed", groupRetired = "group_retired"
        case groupsPending = "groups_pending", burstOn = "burst_on", burstOff = "burst_off", capChanged = "cap_changed"
        case groupBlocked = "group_blocked", groupUnblocked = "group_unblocked"
        case groupDependencyFailed = "group_dependency_failed"
        case rateLimited = "rate_limited", rateLimitRestored = "rate_limit_restored"
        case unknown
    }
}

extension TUIEvent {
    /// The event of an Acty database, as the store reads it.
    package init(_ record: EventRecord) {
        self.init(
            seq: record.seq, at: record.at, type: record.type, job: record.jobID.map { String($0.rawValue) },
            group: record.groupKey, role: record.role, follower: record.followerIndex, lane: record.lane,
            pool: record.pool?.rawValue, engine: record.worker, payload: record.data.flatMap { try? JSONValue(jsonString: $0) }
        )
    }

    /// Reads one line of a JSONL log in acty's envelope; `nil` when the line is not such an event (not JSON, not an
    /// object, no `type`).
    package init?(jsonlLine line: String) {
        var line = line
        guard let event = line.withUTF8({ TUIEvent(jsonlBytes: $0) }) else { return nil }
        self = event
    }

    /// Reads one line given as UTF-8 bytes (see ``init(jsonlLine:)``). Bytes that are not UTF-8 are replaced, as
    /// `String(decoding:as:)` does, rather than costing the line.
    init?(jsonlBytes bytes: UnsafeBufferPointer<UInt8>) {
        var envelope = Envelope(bytes)
        if envelope == nil, bytes.contains(where: { $0 >= 0x80 }) {
            var repaired = String(decoding: bytes, as: UTF8.self)
            envelope = repaired.withUTF8 { Envelope($0) }
        }
        guard let envelope, let type = envelope.type else { return nil }
        func text(_ value: JSONValue?) -> String? {
            switch value {
            case .string(let string)?: string
            case .number(let number)?: Int64(exactly: number).map { String($0) } ?? String(number)
            default: nil
            }
        }
        self.init(
            seq: envelope.seq.flatMap { Int64(exactly: $0.rounded(.towardZero)) } ?? 0, at: envelope.ts ?? envelope.timestamp ?? envelope.time ?? 0, type: type,
            job: text(envelope.jobID), group: text(envelope.groupID), role: text(envelope.kind).flatMap(JobRole.init(rawValue:)),
            follower: text(envelope.followerID).flatMap { Int($0) }, lane: nil, pool: text(envelope.pool),
            engine: text(envelope.runID), payload: envelope.payload == .null ? nil : envelope.payload
        )
    }
}
