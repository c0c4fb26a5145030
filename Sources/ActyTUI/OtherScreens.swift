import ActyCore

/// `t`: one row per recent job, a bar from queued (░) to started to finished (█ with ⅛-cell ends), retries ↻,
/// running jobs ending in ▸, failed ones red.
enum TimelineScreen {
    static func draw(_ state: DashboardState, into canvas: inout Canvas) {
        let rows = canvas.linesLeft - 3
        let running = state.jobs.values.filter { $0.startedAt != nil }
            .sorted { ($0.startedAt ?? 0, $0.id) < ($1.startedAt ?? 0, $1.id) }
        let finished = state.finishedJobs.newest(max(0, rows - running.count)).reversed()
        let jobs = Array((Array(finished) + running).suffix(max(0, rows)))
        let end = state.lastAt ?? 0
        let start = jobs.map { $0.queuedAt ?? $0.startedAt ?? end }.min() ?? end
        let span = max(end - start, 0.001)
        let showLane = state.lanes.count > 1
        let groupWidth = canvas.width >= 120 ? 28 : 14
        let labelWidth = 9 + 9 + (showLane ? 11 : 0) + groupWidth + 1 + 8
        let barWidth = max(10, canvas.width - labelWidth)
        let prefix = DashboardScreen.sharedPrefix(jobs.compactMap(\.group))
        canvas.section("Timeline: \(jobs.count) jobs over \(Glyphs.duration(span)), queued ░ running █ retry ↻")
        var header = Glyphs.fit("pool", 9) + Glyphs.fit("role", 9)
        if showLane { header += Glyphs.fit("lane", 10) + " " }
        header += Glyphs.fit(prefix.isEmpty ? "group" : "group \(prefix)…", groupWidth) + " " + Glyphs.fit("took", 7, right: true)
        canvas.line([(header, .faint)])
        for job in jobs {
            let duration = (job.finishedAt ?? end) - (job.startedAt ?? job.queuedAt ?? end)
            var pieces: [(String, Style)] = [
                (Glyphs.fit(job.pool ?? "-", 9), .faint), (Glyphs.fit(job.role?.rawValue ?? "-", 9), .plain),
            ]
            if showLane { pieces.append((Glyphs.fit(job.lane, 10) + " ", .faint)) }
            pieces.append((Glyphs.fitTail(Glyphs.shortID(job.group.map { String($0.dropFirst(prefix.count)) } ?? job.id), groupWidth) + " ", .plain))
            pieces.append((Glyphs.fit(Glyphs.duration(duration), 7, right: true) + " ", .plain))
            canvas.line(pieces)
            drawBar(job, from: start, span: span, end: end, x: labelWidth, width: barWidth, y: canvas.y - 1, grid: &canvas.grid)
        }
        canvas.line([(Glyphs.fit("", labelWidth) + Glyphs.clock(start), .faint)])
        let last = Glyphs.clock(end)
        canvas.grid.write(last, x: canvas.width - last.count, y: canvas.y - 1, style: .faint)
    }

    static func drawBar(_ job: DashboardState.Job, from start: Double, span: Double, end: Double, x: Int, width: Int, y: Int, grid: inout Grid) {
        func column(_ at: Double) -> Double { (at - start) / span * Double(width) }
        let queued = column(job.queuedAt ?? job.startedAt ?? end)
        let started = column(job.startedAt ?? end)
        let finished = column(job.finishedAt ?? end)
        for cell in Int(queued)..<max(Int(queued), min(width, Int(started))) {
            grid[x + cell, y] = Cell("░", .faint)
        }
        guard job.startedAt != nil else { return }
        let style: Style = job.phase == .failed ? .bad : (job.phase == .running ? .busy : .good)
        // Whole cells from the start, then the ⅛ block of the last partial cell (at least one eighth).
        let first = Int(started)
        let eighths = max(1, Int(((finished - Double(first)) * 8).rounded()))
        for offset in 0..<(eighths / 8) where first + offset < width { grid[x + first + offset, y] = Cell("█", style) }
        if eighths % 8 > 0, first + eighths / 8 < width {
            grid[x + first + eighths / 8, y] = Cell(Glyphs.eighths[eighths % 8 - 1], style)
        }
        if job.phase == .running { grid[x + min(width - 1, first + max(0, (eighths - 1) / 8)), y] = Cell("▸", style) }
        for retry in job.retries {
            grid[x + min(width - 1, max(0, Int(column(retry)))), y] = Cell("↻", Style(color: .magenta, bold: true))
        }
    }
}

/// `l`: the latest events, newest at the bottom, filtered by `/` per field (`type:job_failed group:g1 lane:priority`,
/// `-type:job_requeued`, bare words search the whole line), scrolled with ↑↓.
enum LogScreen {
    static let fields: Set<String> = ["type", "job", "group", "lane", "kind", "pool", "engine"]

    static func value(_ field: String, of event: TUIEvent) -> String? {
        switch field {
        case "type": event.type
        case "job": event.job
        case "group": event.group
        case "lane": event.lane
        case "kind": event.role?.rawValue
        case "pool": event.pool
        case "engine": event.engine
        default: nil
        }
    }

    /// The events of the log that pass the context's filter, oldest first.
    static func events(_ state: DashboardState, _ context: ViewContext) -> [TUIEvent] {
        let filter = FieldFilter(context.filter, fields: fields)
        guard !filter.isEmpty else { return state.log.elements }
        return state.log.elements.filter { event in filter.matches({ value($0, of: event) }, text: line(event)) }
    }

    static func draw(_ state: DashboardState, _ context: ViewContext, into canvas: inout Canvas) {
        let filter = context.filter
        let events = events(state, context)
        canvas.section("Event log: \(events.count) of the last \(state.log.count) events" + (filter.isEmpty ? "" : " matching \"\(filter)\""))
        let rows = canvas.linesLeft
        let endIndex = max(0, events.count - max(0, context.scroll))
        for event in events[max(0, endIndex - rows)..<endIndex] {
            canvas.line([(Glyphs.clock(event.at) + " ", .faint), (line(event), event.kind == .unknown ? .busy : style(event))])
        }
    }

    static func style(_ event: TUIEvent) -> Style {
        switch event.kind {
        case .jobFailed, .groupFailed, .primerFailed, .followerFailed: .bad
        case .jobSucceeded, .groupDone: .good
        case .jobRetrying, .jobRescued, .jobResubmitted, .jobResultHandlerFailed: .busy
        default: .plain
        }
    }

    /// `type job=… group=… lane=… key=value…`, as Python acty's log lines.
    static func line(_ event: TUIEvent) -> String {
        var text = event.type
        if let job = event.job { text += " job=\(job)" }
        if let group = event.group { text += " group=\(group)" }
        if let role = event.role { text += " kind=\(role.rawValue)" }
        if let pool = event.pool { text += " pool=\(pool)" }
        if let lane = event.lane { text += " lane=\(lane)" }
        if let fields = event.payload?.objectValue {
            for key in fields.keys.sorted() where !["lane", "pool", "job_context", "original_job_id"].contains(key) {
                text += " \(key)=\(fields[key]?.jsonString ?? "")"
            }
        }
        return String(text.prefix(300))
    }
}

/// `?`: the keys.
enum HelpScreen {
    static let keys: [(String, String)] = [
        ("q", "quit (also ctrl-c)"), ("?", "this help"), ("t", "timeline of recent jobs"), ("l", "event log"),
        ("/", "filter groups (dashboard) or events (log); enter keeps, esc clears"),
        ("", "words match anywhere, field:value one field, -x excludes, x* prefix"),
        ("", "log fields: type group lane job kind pool engine, for example"),
        ("", "  type:job_failed lane:priority   or   -type:job_requeued group:g3"),
        ("", "group fields: group lane state primer, e.g. state:failed"),
        ("↑ ↓ / k j", "select a group or job, scroll the log"), ("enter", "drill down: group → its jobs → a job"),
        ("esc", "back to the previous screen"),
        ("p", "replay: pause / resume"), (".", "replay: one event when paused"), ("+ -", "replay: faster / slower"),
        ("0", "replay: as fast as possible"), ("g G", "replay: jump to the start / the end"),
    ]

    static func draw(into canvas: inout Canvas) {
        canvas.section("Keys")
        for (key, meaning) in keys { canvas.line([(Glyphs.fit(key, 12), .title), (meaning, .plain)]) }
    }
}

/// `enter` on a group: its jobs; `enter` on a job: what the log says about it, plus database details.
enum DrillDown {
    /// The jobs of a group: those the state still holds (live ones and recently finished), then those only the
    /// database holds; primer first.
    static func jobs(of key: String, in state: DashboardState, _ context: ViewContext) -> [DashboardState.Job] {
        let live = state.jobs.values.filter { $0.group == key }
        let done = state.finishedJobs.elements.filter { $0.group == key }
        let known = Set((live + done).map(\.id))
        let stored = context.groupJobs.filter { $0.group == key && !known.contains($0.id) }
        return (live + done + stored).sorted { ($0.role == .primer ? 0 : 1, $0.follower ?? 0, $0.id) < ($1.role == .primer ? 0 : 1, $1.follower ?? 0, $1.id) }
    }

    static func drawGroup(_ key: String, _ state: DashboardState, _ context: ViewContext, into canvas: inout Canvas) {
        let group = state.groups[key]
        var title = "Group \(key)"
        if let group {
            title += ": \(group.state), lane \(group.lane ?? "-"), primer \(group.primer), followers \(group.followersDone)/\(group.followers)"
            if group.followersFailed > 0 { title += ", \(group.followersFailed) failed" }
            if group.warming { title += ", warming up" }
        }
        canvas.section(title)
        if let error = group.flatMap(\.lastError) { canvas.line([("error: " + error.split(whereSeparator: \.isNewline).joined(separator: " "), .bad)]) }
        let jobs = jobs(of: key, in: state, context)
        if jobs.isEmpty { canvas.line([("no jobs of this group are in the recent history", .faint)]) }
        let selected = min(max(0, context.selected), max(0, jobs.count - 1))
        let rows = canvas.linesLeft
        let first = max(0, min(selected - rows + 1, jobs.count - rows))
        for (index, job) in jobs.enumerated().dropFirst(first).prefix(rows) {
            var text = Glyphs.fit(job.id, 32) + " " + Glyphs.fit(job.role?.rawValue ?? "-", 9)
            text += Glyphs.fit(job.follower.map { "#\($0)" } ?? "", 6) + Glyphs.fit(job.phase?.name ?? "?", 10)
            if let startedAt = job.startedAt { text += " ran " + Glyphs.duration((job.finishedAt ?? state.lastAt ?? startedAt) - startedAt) }
            if !job.retries.isEmpty { text += "  retries \(job.retries.count)" }
            let style: Style = job.phase == .failed ? .bad : .plain
            canvas.line([(text, index == selected ? Style(color: style.color, inverse: true) : style)])
        }
    }

    static func drawJob(_ id: String, _ state: DashboardState, _ context: ViewContext, into canvas: inout Canvas) {
        let job = state.jobs[id] ?? state.finishedJobs.elements.last { $0.id == id } ?? context.groupJobs.first { $0.id == id }
        canvas.section("Job \(id)")
        if let job {
            canvas.line([("group \(job.group ?? "-")  lane \(job.lane)  role \(job.role?.rawValue ?? "-")  state \(job.phase?.name ?? "?")", .plain)])
            var times = "queued \(job.queuedAt.map(Glyphs.clock) ?? "-")  started \(job.startedAt.map(Glyphs.clock) ?? "-")"
            times += "  finished \(job.finishedAt.map(Glyphs.clock) ?? "-")  retries \(job.retries.count)"
            if job.deferrals > 0 { times += "  deferred \(job.deferrals)" }
            canvas.line([(times, .plain)])
        }
        for line in context.jobDetails { canvas.line([(line, .plain)]) }
        let events = state.log.elements.filter { $0.job == id }
        if !events.isEmpty { canvas.section("Its events in the log") }
        for event in events.suffix(canvas.linesLeft) {
            canvas.line([(Glyphs.clock(event.at) + " ", .faint), (LogScreen.line(event), LogScreen.style(event))])
        }
    }
}
