import ActyCore

extension DashboardState {
    /// Applies one event. Events of unknown types are counted and kept in the log; nothing an event says is fatal.
    package mutating func apply(_ event: TUIEvent) {
        applied += 1
        if firstAt == nil { firstAt = event.at }
        lastAt = max(lastAt ?? event.at, event.at)
        lastSeq = max(lastSeq, event.seq)
        log.append(event)
        switch event.kind {
        case .jobQueued: queued(event)
        case .jobStarted: jobStarted(event)
        case .jobSucceeded, .jobFailed, .jobCancelled: jobFinished(event)
        case .jobRetrying:
            retried += 1
            recordFailure(event, retried: true)
            // Tenacity retries within the attempt (Python); our retries wait in `scheduled` holding no worker.
            let source = event.payload?["source"]?.stringValue
            // Python's core retries queue a new job: the failed one stays finished.
            let live = event.job.map { jobs[$0] != nil } ?? false
            if live || source == nil, var job = takeJob(event) {
                job.retries.append(event.at)
                if source == nil { move(&job, to: .scheduled) }
                jobs[job.id] = job
            }
        case .jobRescued, .jobReleased:
            if event.kind == .jobRescued { rescued += 1 }
            if let silent = event.payload?["worker"]?.stringValue { engines[silent]?.alive = false }
            if var job = takeJob(event) {
                move(&job, to: .ready)
                jobs[job.id] = job
            }
        case .jobResubmitted:
            // A result handler asked for another attempt: the job is queued again under its id, as after a rescue.
            resubmitted += 1
            if var job = takeJob(event) {
                // With a delay it waits in `scheduled`, like a retry.
                move(&job, to: event.payload?["delay"] != nil ? .scheduled : .ready)
                jobs[job.id] = job
            }
        case .jobRequeued:
            requeued += 1
            deferred(event)
        case .groupActivated:
            let key = event.group ?? "?"
            if groups[key] == nil { groups[key] = Group(key: key, lane: event.lane, activatedAt: event.at) }
        case .followersReady:
            guard let key = event.group else { break }
            for id in groups[key]?.blocked ?? [] {
                if var job = jobs[id], job.phase == .blocked {
                    move(&job, to: .ready)
                    jobs[id] = job
                }
            }
            groups[key]?.blocked = []
            if let unseen = unseenBlocked.removeValue(forKey: key) { moveUnseen(unseen, lane: laneName(event), from: .blocked, to: .ready) }
        case .groupDone:
            let state = event.payload?["state"]?.stringValue
                ?? (event.payload?["ok"]?.boolValue == false ? "failed" : "succeeded")
            finishGroup(event, state: groups[event.group ?? ""]?.state == "failed" ? "failed" : state)
        case .groupCancelled: finishGroup(event, state: "cancelled")
        case .groupBlocked, .groupUnblocked, .groupDependencyFailed: dependency(event)
        case .cacheHit:
            if event.payload?["reason"]?.stringValue == "primer_skipped", let key = event.group { groups[key]?.primer = "skipped" }
        case .runStarted, .workerStarted: engineStarted(event)
        case .runFinished, .workerStopped:
            if let id = event.engine { engines[id]?.alive = false }
        case .laneConfigsUpdated: laneConfigs(event.payload)
        case .warmDelayStart, .warmDelayEnd:
            if let key = event.group { groups[key]?.warming = event.kind == .warmDelayStart }
        case .primerFailed, .followerFailed, .groupFailed:
            // `group_failed` names only the cause (`primer_failed`): the failed job's own message says more.
            if let key = event.group, let error = Self.errorText(event.payload), event.kind != .groupFailed || groups[key]?.lastError == nil {
                groups[key]?.lastError = error
            }
            // Python acty follows `group_failed` with `group_done`; ours records `group_done` too. Either way it failed.
            if event.kind == .groupFailed, let key = event.group, groups[key]?.finishedAt == nil { groups[key]?.state = "failed" }
        case .groupsPending, .groupAdmitted, .groupRetired, .burstOn, .burstOff, .capChanged: admission(event)
        case .runtimeStats: runtimeStats(event)
        case .rateLimited: rateLimited += 1
        case .unknown: unknownTypes[event.type, default: 0] += 1
        default: break
        }
        queueDepth.set(total(.ready), at: event.at)
    }

    // MARK: Jobs

    private mutating func queued(_ event: TUIEvent) {
        guard let id = event.job else { return }
        let blocked = event.payload?["blocked"]?.boolValue == true
        var job = jobs[id] ?? Job(id: id, group: event.group, lane: laneName(event), role: event.role, follower: event.follower)
        if job.phase == nil, event.payload?["retry"]?.boolValue == true {
            // An admin retry of a job that finished before this log's window: it was failed.
            totals[Phase.failed.rawValue] = max(0, totals[Phase.failed.rawValue] - 1)
        }
        job.queuedAt = job.queuedAt ?? event.at
        move(&job, to: blocked ? .blocked : .ready)
        jobs[id] = job
        guard let key = job.group else { return }
        if groups[key] == nil { groups[key] = Group(key: key, lane: job.lane, activatedAt: event.at) }
        if groups[key]?.lane == nil { groups[key]?.lane = job.lane }
        if blocked { groups[key]?.blocked.append(id) }
        if job.role == .follower, event.payload?["retry"]?.boolValue != true { groups[key]?.followers += 1 }
        if job.role == .primer, groups[key]?.primer == "none" { groups[key]?.primer = "pending" }
    }

    private mutating func jobStarted(_ event: TUIEvent) {
        started += 1
        let lane = laneName(event)
        lanes[lane, default: Lane(name: lane)].starts += 1
        if var job = takeJob(event) {
            if job.phase == .running { move(&job, to: .ready) }
            job.startedAt = event.at
            job.pool = event.pool
            job.engine = event.engine
            job.stolen = event.payload?["stolen"]?.boolValue == true
            move(&job, to: .running)
            jobs[job.id] = job
        }
        if event.role == .primer, let key = event.group { groups[key]?.primer = "running" }
    }

    private mutating func jobFinished(_ event: TUIEvent) {
        let phase: Phase = switch event.kind {
        case .jobSucceeded: .succeeded
        case .jobFailed: .failed
        default: .cancelled
        }
        if phase != .cancelled {
            finished += 1
            throughput.add(1, at: event.at)
        }
        if phase == .failed { recordFailure(event, retried: false) }
        guard var job = takeJob(event) else { return }
        job.finishedAt = event.at
        move(&job, to: phase)
        finishedJobs.append(job)
        guard let key = job.group ?? event.group else { return }
        let role = job.role ?? event.role
        if role == .primer {
            let skipped = event.payload?["skipped"] != nil
            groups[key]?.primer = skipped ? "skipped" : phase.name
        } else if role == .follower {
            if phase == .succeeded { groups[key]?.followersDone += 1 }
            if phase == .failed { groups[key]?.followersFailed += 1 }
        }
    }

    /// Takes the job the event names out of the live table (a new one when the log did not show it queued); the
    /// caller puts it back while it is not finished.
    private mutating func takeJob(_ event: TUIEvent) -> Job? {
        guard let id = event.job else { return nil }
        if let job = jobs.removeValue(forKey: id) { return job }
        var job = Job(id: id, group: event.group, lane: laneName(event), role: event.role, follower: event.follower)
        if inferPriorPhases, let prior = priorPhase(ofUnseen: id, event), totals[prior.rawValue] > 0 {
            job.phase = prior
            // `move` takes it out of the prior phase's counts, which the seed included.
            if lanes[job.lane] == nil || lanes[job.lane]!.counts[prior.rawValue] == 0 {
                lanes[job.lane, default: Lane(name: job.lane)].counts[prior.rawValue] += 1
            }
        }
        return job
    }

    /// The phase a job no event has named yet was in before `event` (a follow that started late).
    private mutating func priorPhase(ofUnseen id: String, _ event: TUIEvent) -> Phase? {
        switch event.kind {
        case .jobStarted, .jobCancelled:
            if unseenScheduled.remove(id) != nil { return .scheduled }
            if event.kind == .jobStarted { return .ready }
            if event.payload?["phase"]?.stringValue == "running" { return .running }
            // A group's followers that have not started are all blocked or all released (`followers_ready`).
            if event.role == .follower, let key = event.group, let blocked = unseenBlocked[key] {
                unseenBlocked[key] = blocked > 1 ? blocked - 1 : nil
                return .blocked
            }
            return .ready
        case .jobFailed where event.payload?["reason"]?.stringValue == "dependency_failed":
            // Failed by its group's dependency without ever running: it was blocked.
            if let key = event.group, let blocked = unseenBlocked[key] { unseenBlocked[key] = blocked > 1 ? blocked - 1 : nil }
            return .blocked
        case .jobSucceeded, .jobFailed, .jobRetrying, .jobRescued, .jobReleased, .jobResubmitted: return .running
        default: return nil
        }
    }

    /// Moves jobs no event has named from one phase's counts to another's.
    private mutating func moveUnseen(_ count: Int, lane: String, from old: Phase, to new: Phase) {
        totals[old.rawValue] -= count
        totals[new.rawValue] += count
        lanes[lane, default: Lane(name: lane)].counts[old.rawValue] -= count
        lanes[lane, default: Lane(name: lane)].counts[new.rawValue] += count
    }

    /// Moves a job to `phase`, keeping totals, lane counts and pool occupancy in step.
    private mutating func move(_ job: inout Job, to phase: Phase) {
        if let old = job.phase {
            totals[old.rawValue] -= 1
            lanes[job.lane]?.counts[old.rawValue] -= 1
            if old == .running, let pool = job.pool {
                let key = (job.engine ?? "") + "/" + pool
                pools[key]?.busy -= 1
                if job.stolen { pools[key]?.stealing -= 1 }
            }
        }
        job.phase = phase
        totals[phase.rawValue] += 1
        lanes[job.lane, default: Lane(name: job.lane)].counts[phase.rawValue] += 1
        if phase == .running, let pool = job.pool {
            let key = (job.engine ?? "") + "/" + pool
            pools[key, default: Pool(engine: job.engine ?? "", name: pool, size: 0)].busy += 1
            if job.stolen { pools[key]?.stealing += 1 }
        }
    }

    private func laneName(_ event: TUIEvent) -> String {
        if let lane = event.lane { return lane }
        if let id = event.job, let lane = jobs[id]?.lane { return lane }
        if let key = event.group, let lane = groups[key]?.lane { return lane }
        return "default"
    }

    private mutating func recordFailure(_ event: TUIEvent, retried: Bool) {
        let payload = event.payload
        let error = payload?["error"]
        let info = payload?["error_info"]
        let type = error?["type"]?.stringValue ?? info?["type"]?.stringValue ?? payload?["error_type"]?.stringValue ?? "error"
        let message = error?["message"]?.stringValue ?? error?.stringValue ?? info?["message"]?.stringValue ?? ""
        failures.append(Failure(
            at: event.at, job: event.job, group: event.group, lane: event.lane ?? event.job.flatMap { jobs[$0]?.lane },
            errorType: type, message: message, retried: retried
        ))
    }

    // MARK: Python acty's scheduler events

    private mutating func deferred(_ event: TUIEvent) {
        let lane = laneName(event)
        lanes[lane, default: Lane(name: lane)].deferrals += 1
        if let id = event.job { jobs[id]?.deferrals += 1 }
    }

    private mutating func admission(_ event: TUIEvent) {
        var admission = self.admission ?? Admission()
        let payload = event.payload
        switch event.kind {
        case .groupAdmitted, .groupRetired:
            if event.kind == .groupAdmitted { admission.admitted += 1 } else { admission.retired += 1 }
            // Ours say how many groups are active then; Python acty's have no payload.
            admission.active = payload?["active"]?.intValue ?? admission.active
            admission.cap = payload?["cap"]?.intValue ?? admission.cap
            if event.kind == .groupAdmitted, let key = event.group, groups[key] != nil { releaseBlockedPrimer(key, event) }
        case .groupsPending:
            admission.pending = payload?["pending"]?.intValue ?? admission.pending
            admission.active = payload?["active"]?.intValue ?? admission.active
            admission.cap = payload?["cap"]?.intValue ?? admission.cap
        default:
            if event.kind != .capChanged { admission.burst = event.kind == .burstOn }
            admission.cap = payload?["cap"]?.intValue ?? admission.cap
            admission.baseCap = payload?["base_cap"]?.intValue ?? admission.baseCap
            admission.runnable = payload?["runnable"]?.intValue ?? admission.runnable
            admission.lowWatermark = payload?["low_watermark"]?.intValue ?? admission.lowWatermark
        }
        self.admission = admission
    }

    private mutating func runtimeStats(_ event: TUIEvent) {
        let payload = event.payload
        var stats = RuntimeStats(at: event.at)
        stats.queueDepth = payload?["queue_depth"]?.intValue
        stats.inflightWorkers = payload?["inflight_workers"]?.intValue
        stats.warmTasks = payload?["warm_tasks"]?.intValue
        for (state, count) in payload?["groups_by_state"]?.objectValue ?? [:] {
            if let count = count.intValue { stats.groupsByState[state] = count }
        }
        runtimeStats = stats
    }

    static func errorText(_ payload: JSONValue?) -> String? {
        payload?["error_info"]?["message"]?.stringValue ?? payload?["error"]?["message"]?.stringValue
            ?? payload?["error"]?.stringValue ?? payload?["reason"]?.stringValue
    }

    // MARK: Groups, engines, lanes

    /// A group's dependencies: `group_blocked` adds one it waits for (Python acty writes it before
    /// `group_activated`), `group_dependency_failed` counts one that failed, `group_unblocked` releases the jobs
    /// held behind them (the primer; followers come with `followers_ready`).
    private mutating func dependency(_ event: TUIEvent) {
        guard let key = event.group else { return }
        if groups[key] == nil { groups[key] = Group(key: key, lane: event.lane, activatedAt: event.at) }
        let dependency = event.payload?["dependency_id"]?.stringValue ?? "?"
        switch event.kind {
        case .groupBlocked:
            groups[key]?.waitingFor.insert(dependency)
        case .groupDependencyFailed:
            dependencyFailures += 1
            let reason = event.payload?["reason"]?.stringValue ?? "failed"
            groups[key]?.lastError = "dependency '\(dependency)' \(reason == "timeout" ? "timed out" : reason)"
            groups[key]?.waitingFor.remove(dependency)
        default:
            groups[key]?.waitingFor = []
            // `primer: false`: it now waits for an admission slot, and `group_admitted` releases its primer.
            if event.payload?["primer"]?.boolValue != false { releaseBlockedPrimer(key, event) }
        }
    }

    /// Moves a group's blocked primer to ready: its dependencies are resolved, or it was admitted.
    private mutating func releaseBlockedPrimer(_ key: String, _ event: TUIEvent) {
        var stillBlocked: [String] = []
        var primerMoved = false
        for id in groups[key]?.blocked ?? [] {
            guard var job = jobs[id], job.phase == .blocked else { continue }
            if job.role == .primer {
                move(&job, to: .ready)
                jobs[id] = job
                primerMoved = true
            } else {
                stillBlocked.append(id)
            }
        }
        groups[key]?.blocked = stillBlocked
        // A primer made ready that a late start counted blocked without seeing it queued (the look through the
        // jobs happens only then).
        if event.payload?["primer"]?.boolValue == true, !primerMoved, let unseen = unseenBlocked[key],
            !jobs.values.contains(where: { $0.group == key && $0.role == .primer })
        {
            unseenBlocked[key] = unseen > 1 ? unseen - 1 : nil
            moveUnseen(1, lane: laneName(event), from: .blocked, to: .ready)
        }
    }

    private mutating func finishGroup(_ event: TUIEvent, state: String) {
        guard let key = event.group else { return }
        var group = groups[key] ?? Group(key: key, lane: event.lane, activatedAt: event.at)
        guard group.finishedAt == nil else { return }
        group.state = state
        group.finishedAt = event.at
        group.waitingFor = []
        groupOutcomes[state, default: 0] += 1
        groups[key] = group
        // Finished groups stay a while: Python acty reports followers finishing after their group's `group_done`.
        if let old = finishedGroups.append(key) { groups[old] = nil }
    }

    private mutating func engineStarted(_ event: TUIEvent) {
        let id = event.engine ?? "?"
        let payload = event.payload
        var engine = engines[id] ?? Engine(id: id)
        engine.alive = true
        engine.host = payload?["host"]?.stringValue ?? engine.host
        engine.pid = payload?["pid"]?.intValue ?? engine.pid
        engines[id] = engine
        var sizes: [(String, Int)] = []
        if let primer = payload?["primer_workers"]?.intValue { sizes.append(("primer", primer)) }
        if let follower = payload?["follower_workers"]?.intValue { sizes.append(("follower", follower)) }
        for config in payload?["pool_configs"]?.arrayValue ?? [] {
            if let name = config["name"]?.stringValue { sizes.append((name, config["workers"]?.intValue ?? 0)) }
        }
        for (name, size) in sizes {
            pools[id + "/" + name, default: Pool(engine: id, name: name, size: size)].size = size
        }
        laneConfigs(payload)
    }

    /// Lane settings from `run_started` (Python: `lane_configs`) and `lane_configs_updated` (both: a list, or ours:
    /// one lane's changed fields).
    private mutating func laneConfigs(_ payload: JSONValue?) {
        guard let payload else { return }
        var configs = payload["lane_configs"]?.arrayValue ?? []
        if payload["lane_configs"] == nil, payload["lane"] != nil { configs.append(payload) }
        for config in configs {
            guard let name = config["lane"]?.stringValue else { continue }
            var lane = lanes[name] ?? Lane(name: name)
            if let weight = config["weight"]?.doubleValue { lane.weight = weight }
            if let cap = config["max_inflight"] { lane.maxInflight = cap.intValue }
            if let paused = config["paused"]?.boolValue { lane.paused = paused }
            lanes[name] = lane
        }
    }
}
