import ActyCore
import ActyStore
import Foundation

/// Where a live dashboard's events come from, tick by tick.
public protocol EventFeed {
    /// Applies what is new by `now` (wall-clock seconds); returns whether the state changed.
    mutating func tick(now: Double, state: inout DashboardState) throws -> Bool
    /// Handles a key's command; returns whether the state changed.
    mutating func handle(_ command: FeedCommand, state: inout DashboardState) -> Bool
    /// The position for the header.
    var position: String { get }
}

/// Replays a run's events at a speed: `speed` seconds of the run per wall-clock second, 0 = as fast as possible.
/// Reconstructs the state from events only.
public struct ReplayFeed: EventFeed {
    public let events: [TUIEvent]
    let badLines: Int
    public private(set) var index = 0
    public private(set) var speed: Double
    public private(set) var paused = false
    /// The run's time the replay has reached, and the wall-clock time it was reached at.
    private var cursor: (run: Double, wall: Double)?
    /// At full speed, events per tick: the screen still refreshes and keys still work during a long log.
    static let fullSpeedBatch = 200_000

    public init(events: [TUIEvent], badLines: Int, speed: Double) {
        self.events = events
        self.badLines = badLines
        self.speed = max(0, speed)
    }

    public var position: String {
        let rate = speed == 0 ? "max" : "×" + (speed == speed.rounded() ? String(Int(speed)) : String(format: "%.3g", speed))
        return "replay \(index)/\(events.count) \(rate)" + (paused ? " paused" : "") + (index == events.count ? " end" : "")
    }

    public mutating func tick(now: Double, state: inout DashboardState) -> Bool {
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

    public mutating func handle(_ command: FeedCommand, state: inout DashboardState) -> Bool {
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

/// Follows a database an engine is writing: each tick reads the events after the last one seen (one range of the
/// primary key) and, every second, the `workers` table (engines alive). Never re-reads the whole log.
public struct FollowFeed: EventFeed {
    let store: ReadOnlyStore
    let pollInterval: Double
    private var lastPoll = -Double.infinity
    private var lastWorkers = -Double.infinity
    private var lastSeq: Int64
    /// An engine that has not heartbeat for this long is shown as gone even if it never marked itself stopped
    /// (a crash): the engine heartbeats several times per lease (30 s by default).
    static let silentAfter = 60.0

    public enum Start: Sendable, Hashable {
        /// Replay every event first.
        case fromStart
        /// Counts from the tables, then the last `n` events.
        case lastN(Int)
        /// Counts from the tables, then events from this time on.
        case fromTime(Double)
    }

    /// Opens the database and builds the first state.
    public static func open(_ path: String, start: Start, pollInterval: Double) throws -> (FollowFeed, DashboardState) {
        let store = try Store.openReadOnly(path)
        var state = DashboardState()
        let from: Int64
        switch start {
        case .fromStart: from = 0
        case .lastN(let n): from = max(0, try store.lastEventSeq() - Int64(n))
        case .fromTime(let at): from = try store.eventSeq(before: at)
        }
        let events = try RunLog.events(of: store, after: from)
        state.inferPriorPhases = from > 0
        for event in events { state.apply(TUIEvent(event)) }
        if from > 0 { try seed(&state, from: store) }
        var feed = FollowFeed(store: store, pollInterval: pollInterval, lastSeq: events.last?.seq ?? from)
        try feed.readWorkers(into: &state, now: Date().timeIntervalSince1970)
        return (feed, state)
    }

    /// Counts by state and lanes from the tables (once: these read whole tables), so a follow that starts late
    /// shows the run's totals.
    static func seed(_ state: inout DashboardState, from store: ReadOnlyStore) throws {
        let summary = try store.summary()
        var jobsByState: [String: Int] = [:]
        for row in summary.first(where: { $0.0 == "jobs_by_state" })?.1.rows ?? [] {
            if let state = row[0].stringValue, let count = row[1].intValue { jobsByState[state] = count }
        }
        var groupsByState: [String: Int] = [:]
        for row in summary.first(where: { $0.0 == "groups_by_state" })?.1.rows ?? [] {
            if let state = row[0].stringValue, let count = row[1].intValue { groupsByState[state] = count }
        }
        let lanes = try store.lanes()
        var seeded: [DashboardState.Lane] = []
        for index in lanes.rows.indices {
            func value(_ column: String) -> JSONValue? { lanes.value(column, row: index) }
            guard let name = value("name")?.stringValue else { continue }
            var lane = DashboardState.Lane(name: name)
            lane.weight = value("weight")?.doubleValue ?? 1
            lane.maxInflight = value("max_inflight")?.intValue
            lane.paused = value("paused")?.intValue == 1
            lane.counts[DashboardState.Phase.ready.rawValue] = value("ready")?.intValue ?? 0
            lane.counts[DashboardState.Phase.running.rawValue] = value("running")?.intValue ?? 0
            lane.counts[DashboardState.Phase.succeeded.rawValue] = value("done")?.intValue ?? 0
            lane.counts[DashboardState.Phase.failed.rawValue] = value("failed")?.intValue ?? 0
            lane.starts = state.lanes[name]?.starts ?? 0
            seeded.append(lane)
        }
        let runStartedAt = try store.eventRecords(after: 0, limit: 1).first?.at
        state.seed(jobsByState: jobsByState, groupsByState: groupsByState, lanes: seeded, runStartedAt: runStartedAt)
    }

    public var position: String { "follow · seq \(lastSeq)" }

    public mutating func tick(now: Double, state: inout DashboardState) throws -> Bool {
        var changed = false
        if now - lastWorkers >= 1 {
            try readWorkers(into: &state, now: now)
            changed = true
        }
        guard now - lastPoll >= pollInterval else { return changed }
        lastPoll = now
        // Pages of 10,000: a burst is applied over a few ticks and the screen keeps refreshing.
        let page = try store.eventRecords(after: lastSeq, limit: 10_000)
        for record in page { state.apply(TUIEvent(record)) }
        if let last = page.last?.seq { lastSeq = last }
        return changed || !page.isEmpty
    }

    public mutating func handle(_ command: FeedCommand, state: inout DashboardState) -> Bool { false }

    mutating func readWorkers(into state: inout DashboardState, now: Double) throws {
        lastWorkers = now
        let table = try store.workers()
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
