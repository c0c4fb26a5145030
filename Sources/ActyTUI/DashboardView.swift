/// Draws frames: state + context + size → a grid of cells. Pure: the same inputs draw the same grid.
package enum View {
    package static func render(_ state: DashboardState, _ context: ViewContext, width: Int, height: Int) -> Grid {
        var grid = Grid(width: width, height: height)
        guard width >= 20, height >= 5 else {
            grid.write("window too small", x: 0, y: 0)
            return grid
        }
        let top = header(state, context, into: &grid)
        var body = Canvas(grid: grid, top: top, bottom: height - 1)
        switch context.screen {
        case .dashboard: DashboardScreen.draw(state, context, into: &body)
        case .timeline: TimelineScreen.draw(state, into: &body)
        case .log: LogScreen.draw(state, context, into: &body)
        case .help: HelpScreen.draw(into: &body)
        case .group(let key): DrillDown.drawGroup(key, state, context, into: &body)
        case .job(let id): DrillDown.drawJob(id, state, context, into: &body)
        }
        grid = body.grid
        footer(context, state, into: &grid)
        return grid
    }

    /// Three lines (four when the counters do not fit in a narrow window): the file and engines; totals by phase;
    /// rates, elapsed time, groups and counters. Returns the first line below it.
    static func header(_ state: DashboardState, _ context: ViewContext, into grid: inout Grid) -> Int {
        var x = grid.write("acty-tui ", x: 0, y: 0, style: .title)
        x = grid.write(context.title, x: x, y: 0, style: .info, limit: grid.width / 2)
        let alive = state.engines.values.filter(\.alive).sorted { $0.id < $1.id }
        let engines = alive.isEmpty
            ? (state.engines.isEmpty ? "no engine seen" : "no engine alive")
            : "engines " + alive.map { engine in
                engine.host.map { "\($0)/\(engine.pid.map(String.init) ?? "?")" } ?? String(engine.id.prefix(8))
            }.joined(separator: " ")
        x = grid.write("  ", x: x, y: 0)
        // The reader's position keeps its place on the right; the engines give way to it.
        let position = context.position.map { " " + $0 } ?? ""
        let room = grid.width - x - (position.count < grid.width - x ? position.count : 0)
        x = grid.write(engines, x: x, y: 0, style: alive.isEmpty ? .bad : .good, limit: room)
        if !position.isEmpty, grid.width - position.count >= x { grid.write(position, x: grid.width - position.count, y: 0, style: .busy) }

        let phases: [(String, DashboardState.Phase, Style)] = [
            ("blocked", .blocked, .faint), ("ready", .ready, .plain), ("sched", .scheduled, .plain),
            ("running", .running, .busy), ("done", .succeeded, .good), ("failed", .failed, .bad),
            ("cancelled", .cancelled, .faint),
        ]
        x = grid.write("jobs ", x: 0, y: 1, style: .title)
        x = grid.write(Glyphs.count(state.jobsTotal), x: x, y: 1)
        x = grid.write(" ·", x: x, y: 1, style: .faint)
        for (name, phase, style) in phases {
            x = grid.write(" \(name) ", x: x, y: 1, style: .faint)
            x = grid.write(Glyphs.count(state.total(phase)), x: x, y: 1, style: state.total(phase) > 0 ? style : .faint)
        }

        let elapsed = (state.lastAt ?? 0) - (state.firstAt ?? 0)
        let outcomes = state.groupOutcomes
        // Once every engine seen has stopped, nothing runs now, whatever the last seconds of the log did.
        let ended = !state.engines.isEmpty && !state.engines.values.contains(where: \.alive)
        var line = "jobs/s \(ended ? "0" : Glyphs.rate(state.currentThroughput)) now \(Glyphs.rate(state.runThroughput)) run"
        line += " · \(Glyphs.duration(elapsed)) · groups \(state.groups.values.filter(\.isActive).count) active"
        let blocked = state.groups.values.filter(\.isBlocked).count
        if blocked > 0 { line += " \(blocked) blocked" }
        line += " \(outcomes["succeeded", default: 0]) ok \(outcomes["failed", default: 0]) failed"
        if let cancelled = outcomes["cancelled"] { line += " \(cancelled) cancelled" }
        var counters = "retried \(Glyphs.count(state.retried))"
        if state.requeued > 0 { counters += " requeued \(Glyphs.count(state.requeued))" }
        if state.rescued > 0 { counters += " rescued \(Glyphs.count(state.rescued))" }
        if state.dependencyFailures > 0 { counters += " dependencies failed \(Glyphs.count(state.dependencyFailures))" }
        if state.resubmitted > 0 { counters += " resubmitted \(Glyphs.count(state.resubmitted))" }
        if state.rateLimited > 0 { counters += " rate limited \(Glyphs.count(state.rateLimited))" }
        let unknown = state.unknownTypes.values.reduce(0, +)
        if unknown > 0 || state.badLines > 0 { counters += " · unknown events \(unknown), bad lines \(state.badLines)" }
        if line.count + 3 + counters.count <= grid.width || grid.height < 12 {
            grid.write(line + " · " + counters, x: 0, y: 2, style: .plain)
            return 3
        }
        grid.write(line, x: 0, y: 2, style: .plain)
        grid.write(counters, x: 0, y: 3, style: .plain)
        return 4
    }

    static func footer(_ context: ViewContext, _ state: DashboardState, into grid: inout Grid) {
        let y = grid.height - 1
        if context.editingFilter {
            grid.write("/" + context.filter + "▏", x: 0, y: y, style: .busy)
            return
        }
        let keys: String = switch context.screen {
        case .dashboard: "q quit  ? keys  t timeline  l log  / filter  ↑↓ select  enter group"
        case .group: "esc back  ↑↓ select  enter job  q quit"
        case .job, .help, .timeline: "esc back  q quit"
        case .log: "esc back  ↑↓ scroll  / filter (type: group: lane: -x)  q quit"
        }
        var x = grid.write(keys, x: 0, y: y, style: .faint)
        if !context.filter.isEmpty { x = grid.write("  filter: " + context.filter, x: x, y: y, style: .busy) }
        _ = x
    }
}

/// The part of the grid below the header and above the footer, filled top-down.
struct Canvas {
    var grid: Grid
    var y: Int
    let bottom: Int

    init(grid: Grid, top: Int, bottom: Int) {
        self.grid = grid
        self.y = top
        self.bottom = bottom
    }

    var width: Int { grid.width }
    var linesLeft: Int { max(0, bottom - y) }

    /// A section title across the width: `─ Lanes ─────`.
    mutating func section(_ title: String) {
        guard linesLeft > 0 else { return }
        let x = grid.write("─ ", x: 0, y: y, style: .faint)
        let end = grid.write(title, x: x, y: y, style: .title)
        grid.write(" " + String(repeating: "─", count: max(0, width - end - 1)), x: end, y: y, style: .faint)
        y += 1
    }

    /// Writes one line of pieces, each with its style, and moves down.
    mutating func line(_ pieces: [(String, Style)]) {
        guard linesLeft > 0 else { return }
        var x = 0
        for (text, style) in pieces { x = grid.write(text, x: x, y: y, style: style) }
        y += 1
    }
}
