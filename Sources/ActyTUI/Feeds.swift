import ActyCore
import ActyStore
import Foundation

/// Where a live dashboard's events come from, tick by tick.
package protocol EventFeed {
    /// Applies what is new by `now` (wall-clock seconds); returns whether the state changed.
    mutating func tick(now: Double, state: inout DashboardState) throws -> Bool
    /// Handles a key's command; returns whether the state changed.
    mutating func handle(_ command: FeedCommand, state: inout DashboardState) -> Bool
    /// The position for the header.
    var position: String { get }
}

/// Replays a run's events at a speed: `speed` seconds of the run per wall-clock second, 0 = as fast as possible.
/// Reconstructs the state from events only.
package struct ReplayFeed: EventFeed {
    package let events: [TUIEvent]
    let badLines: Int
    package private(set) var index = 0
    package private(set) var speed: Double
    package private(set) var paused = false
    /// The run's time the replay has reached, and the wall-clock time it was reached at.
    private var cursor: (run: Double, wall: Double)?
    /// At full speed, events per tick: the screen still refreshes and keys still work during a long log.
    static let fullSpeedBatch = 200_000

    package init(events: [TUIEvent], badLines: Int, speed: Double) {
        self.events = events
        self.badLines = badLines
        self.speed = max(0, speed)
    }

    package var position: String {
        let rate = speed == 0 ? "max" : "×" + (speed == speed.rounded() ? String(Int(speed)) : String(format: "%.3g", speed))
        return "replay \(index)/\(events.count) \(rate)" + (paused ? " paused" : "") + (index == events.count ? " end" : "")
    }

    package mutating func tick(now: Double, state: inout DashboardState) -> Bool {
        guard !paused, index < events.count else {
            cursor = nil
            return false
        }
        let start = index
        if speed == 0 {
            let end = min(events.count, index + Self.fullSpeedBatch)
            while index < end { apply(&state) }
            return true
        }
        let base = cursor ?? (run: events[index].at, wall: now)
        let reached = base.run + (now - base.wall) * speed
        while index < events.count, events[index].at <= reached { apply(&state) }
        cursor = (reached, now)
        return index > start
    }

    package mutating func handle(_ command: FeedCommand, state: inout DashboardState) -> Bool {
        switch command {
        case .togglePause: paused.toggle()
        case .step:
            paused = true
            if index < events.count { apply(&state) }
        case .faster: speed = speed == 0 ? 0 : min(1024, speed * 2)
        case .slower: speed = speed == 0 ? 64 : max(1.0 / 64, speed / 2)
        case .fullSpeed: speed = 0
        case .jumpToStart:
            state = DashboardState()
            state.badLines = badLines
            index = 0
        case .jumpToEnd: while index < events.count { apply(&state) }
        case .quit: return false
        }
        cursor = nil
        return true
    }

    private mutating func apply(_ state: inout DashboardState) {
        state.apply(events[index])
        index += 1
    }
}

/// Follows a database an engine is writing: each tick reads, in one read transaction, the events after the last one
/// seen (one range of the primary key) and, every second, the `workers` table (engines alive). Never re-reads the
/// whole log or the `jobs` table: an idle tick is one empty range read, and nothing is drawn unless it changed.
package struct FollowFeed: EventFeed {
    let store: ReadOnlyStore
    let pollInterval: Double
    private var lastPoll = -Double.infinity
    private var lastWorkers = -Double.infinity
    private var lastSeq: Int64
    /// An engine that has not heartbeat for this long is shown as gone even if it never marked itself stopped
    /// (a crash): the engine heartbeats several times per lease (30 s by default).
    static let silentAfter = 60.0
    /// Events per read: a burst is applied over several ticks (~25 ms each on the development VM) and the screen
    /// keeps refreshing. After a full page the next tick reads again without waiting for the poll interval, so a
    /// follow keeps up with an engine at full speed.
    static let page = 4_000
    private var behind = false

    package enum Start: Sendable, Hashable {
        /// Replay every event first.
        case fromStart
        /// Counts from the tables, then the last `n` events.
        case lastN(Int)
        /// Counts from the tables, then events from this time on.
        case fromTime(Double)
    }

    /// Opens the database and builds the first state. A late start reads the counts and the events after its start
    /// in one snapshot, so the events move jobs from counts that do not include them yet.
    package static func open(_ path: String, start: Start, pollInterval: Double) throws -> (FollowFeed, DashboardState) {
        let store = try Store.openReadOnly(path)
        var state = DashboardState()
        let now = Date().timeIntervalSince1970
        let first: FollowRead
        let from: Int64
        switch start {
        case .fromStart:
            // Pages in their own transactions: no counts to agree with, the events alone make the state.
            var events = try RunLog.events(of: store, after: 0)
            from = events.last?.seq ?? 0
            let rest = try store.follow(after: from, limit: Int.max, workers: true, counts: false)
            events += rest.events
            first = FollowRead(events: events, workers: rest.workers, counts: nil)
        case .lastN(let n):
            from = try store.followStart(lastN: n)
            first = try store.follow(after: from, limit: Int.max, workers: true, counts: true)
        case .fromTime(let at):
            from = try store.followStart(at: at)
            first = try store.follow(after: from, limit: Int.max, workers: true, counts: true)
        }
        state.inferPriorPhases = first.counts != nil
        for event in first.events { state.apply(TUIEvent(event)) }
        if let counts = first.counts { seed(&state, from: counts) }
        var feed = FollowFeed(store: store, pollInterval: pollInterval, lastSeq: first.events.last?.seq ?? from)
        feed.lastWorkers = now
        if let workers = first.workers { setEngines(workers, into: &state, now: now) }
        return (feed, state)
    }

    /// Counts by state and lanes from the tables (a follow that starts late shows the run's totals).
    static func seed(_ state: inout DashboardState, from counts: FollowRead.Counts) {
        var jobsByState: [String: Int] = [:]
        for byState in counts.jobs.values {
            for (name, count) in byState { jobsByState[name, default: 0] += count }
        }
        var seeded: [String: DashboardState.Lane] = [:]
        for (name, byState) in counts.jobs {
            var lane = DashboardState.Lane(name: name)
            for (stateName, count) in byState {
                if let phase = DashboardState.phase(ofState: stateName) { lane.counts[phase.rawValue] += count }
            }
            seeded[name] = lane
        }
        let settings = counts.laneSettings
        for index in settings.rows.indices {
            guard let name = settings.value("name", row: index)?.stringValue else { continue }
            var lane = seeded[name] ?? DashboardState.Lane(name: name)
            lane.weight = settings.value("weight", row: index)?.doubleValue ?? 1
            lane.maxInflight = settings.value("max_inflight", row: index)?.intValue
            lane.paused = settings.value("paused", row: index)?.intValue == 1
            seeded[name] = lane
        }
        for name in seeded.keys { seeded[name]?.starts = state.lanes[name]?.starts ?? 0 }
        state.seed(
            jobsByState: jobsByState, groupsByState: counts.groupsByState, lanes: Array(seeded.values),
            runStartedAt: counts.runStartedAt, blockedByGroup: counts.blockedByGroup, scheduledJobs: counts.scheduledJobs.map { String($0) }
        )
    }

    package var position: String { "follow · seq \(lastSeq)" }

    package mutating func tick(now: Double, state: inout DashboardState) throws -> Bool {
        let workersDue = now - lastWorkers >= 1
        guard workersDue || behind || now - lastPoll >= pollInterval else { return false }
        lastPoll = now
        let read = try store.follow(after: lastSeq, limit: Self.page, workers: workersDue, counts: false)
        behind = read.events.count == Self.page
        for record in read.events { state.apply(TUIEvent(record)) }
        if let last = read.events.last?.seq { lastSeq = last }
        if let workers = read.workers {
            lastWorkers = now
            Self.setEngines(workers, into: &state, now: now)
        }
        return workersDue || !read.events.isEmpty
    }

    package mutating func handle(_ command: FeedCommand, state: inout DashboardState) -> Bool { false }

    static func setEngines(_ table: QueryTable, into state: inout DashboardState, now: Double) {
        var engines: [DashboardState.Engine] = []
        for index in table.rows.indices {
            guard let id = table.value("id", row: index)?.stringValue else { continue }
            let heartbeat = table.value("heartbeat_at", row: index)?.doubleValue ?? 0
            var engine = DashboardState.Engine(id: id)
            engine.host = table.value("host", row: index)?.stringValue
            engine.pid = table.value("pid", row: index)?.intValue
            engine.alive = table.value("alive", row: index)?.intValue == 1 && now - heartbeat < Self.silentAfter
                && !LocalProcess.isGone(host: engine.host, pid: engine.pid)
            engines.append(engine)
            for pool in ["primer", "follower"] {
                if let size = table.value("\(pool)_workers", row: index)?.intValue { state.setPoolSize(engine: id, pool: pool, size: size) }
            }
        }
        state.setEngines(engines)
    }
}
