import Foundation

/// The main screen: lanes, pools, throughput and queue depth, groups, latest failures.
enum DashboardScreen {
    static func draw(_ state: DashboardState, _ context: ViewContext, into canvas: inout Canvas) {
        let large = canvas.grid.height >= 40
        let lanes = state.lanes.values.sorted { $0.name < $1.name }
        let failureRows = min(state.failures.count, large ? 8 : 3)
        let laneRows = min(lanes.count, large ? 10 : 4)
        let poolRows = min(Set(state.pools.values.map(\.engine)).count, large ? 4 : 1)

        drawLanes(lanes.prefix(laneRows), state, into: &canvas)
        drawPools(state, rows: poolRows, into: &canvas)
        drawSparklines(state, into: &canvas)
        let groupRows = canvas.linesLeft - (failureRows > 0 ? failureRows + 1 : 0) - 1
        drawGroups(state, context, rows: groupRows, into: &canvas)
        if failureRows > 0 { drawFailures(state, rows: failureRows, into: &canvas) }
    }

    // MARK: Lanes

    static func drawLanes(_ lanes: ArraySlice<DashboardState.Lane>, _ state: DashboardState, into canvas: inout Canvas) {
        guard !lanes.isEmpty else { return }
        canvas.section("Lanes · weight · configured │ actual share of starts · ready run done failed")
        let totalWeight = state.lanes.values.filter { !$0.paused }.map(\.weight).reduce(0, +)
        let totalStarts = state.lanes.values.map(\.starts).reduce(0, +)
        let barWidth = max(4, min(30, (canvas.width - 62) / 2))
        let nameWidth = max(8, min(20, canvas.width - 2 * barWidth - 52))
        for lane in lanes {
            let configured = lane.paused || totalWeight == 0 ? 0 : lane.weight / totalWeight
            let actual = totalStarts == 0 ? 0 : Double(lane.starts) / Double(totalStarts)
            var pieces: [(String, Style)] = [
                (Glyphs.fit(lane.name, nameWidth) + " ", .plain),
                (Glyphs.fit("w" + weight(lane.weight), 5), .faint),
                (Glyphs.bar(configured, width: barWidth), .info),
                (Glyphs.fit(percent(configured), 5, right: true) + " │ ", .faint),
                (Glyphs.bar(actual, width: barWidth), .good),
                (Glyphs.fit(percent(actual), 5, right: true), .plain),
            ]
            for (phase, style) in [(DashboardState.Phase.ready, Style.plain), (.running, .busy), (.succeeded, .good), (.failed, .bad)] {
                let n = lane.count(phase)
                pieces.append((Glyphs.fit(Glyphs.count(n), 6, right: true), n > 0 ? style : .faint))
            }
            if let cap = lane.maxInflight { pieces.append(("  cap \(cap)", .faint)) }
            if lane.deferrals > 0, canvas.width >= 120 { pieces.append(("  deferred \(Glyphs.count(lane.deferrals))", .faint)) }
            if lane.paused { pieces.append(("  paused", .bad)) }
            canvas.line(pieces)
        }
    }

    static func weight(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    static func percent(_ fraction: Double) -> String { "\(Int((fraction * 100).rounded()))%" }

    // MARK: Pools

    static func drawPools(_ state: DashboardState, rows: Int, into canvas: inout Canvas) {
        guard rows > 0 || state.admission != nil || state.runtimeStats != nil else { return }
        canvas.section("Pools: busy █ stealing ▒ idle ·")
        for line in admissionLines(state) { canvas.line(line) }
        let byEngine = Dictionary(grouping: state.pools.values, by: \.engine)
        // Engines alive first: a file written by several runs keeps every earlier run's engine.
        let order = byEngine.keys.sorted { (state.engines[$0]?.alive == false ? 1 : 0, $0) < (state.engines[$1]?.alive == false ? 1 : 0, $1) }
        for engine in order.prefix(rows) {
            let info = state.engines[engine]
            let label = info?.host.map { "\($0)/\(info?.pid.map(String.init) ?? "?")" } ?? String(engine.prefix(12))
            var pieces: [(String, Style)] = [(Glyphs.fit(label, 16) + " ", info?.alive == false ? .faint : .plain)]
            for pool in byEngine[engine, default: []].sorted(by: { $0.name > $1.name }) {
                let size = max(pool.size, pool.busy)
                let cells = min(size, 16)
                let busy = size == 0 ? 0 : Int((Double(pool.busy - pool.stealing) / Double(size) * Double(cells)).rounded())
                let stealing = size == 0 ? 0 : Int((Double(pool.stealing) / Double(size) * Double(cells)).rounded())
                pieces.append((pool.name + " ", .plain))
                pieces.append((String(repeating: "█", count: busy), .busy))
                pieces.append((String(repeating: "▒", count: stealing), .info))
                pieces.append((String(repeating: "·", count: max(0, cells - busy - stealing)), .faint))
                pieces.append((" \(pool.busy)/\(size)", .plain))
                if pool.stealing > 0 { pieces.append((" stealing \(pool.stealing)", .info)) }
                pieces.append(("   ", .plain))
            }
            canvas.line(pieces)
        }
    }

    /// Python acty's admission and burst state and its latest `runtime_stats`, when the log has them.
    static func admissionLines(_ state: DashboardState) -> [[(String, Style)]] {
        var lines: [[(String, Style)]] = []
        if let admission = state.admission {
            var pieces: [(String, Style)] = []
            pieces.append(("admission ", .title))
            pieces.append(("\(admission.active)/\(admission.cap.map(String.init) ?? "?") groups active", .plain))
            if let base = admission.baseCap, let cap = admission.cap, cap != base { pieces.append((" (cap \(base)+\(cap - base))", .faint)) }
            pieces.append((" · \(admission.pending) pending", admission.pending > 0 ? .busy : .faint))
            if admission.lowWatermark != nil || admission.burst {
                pieces.append((admission.burst ? " · BURST ON" : " · burst off", admission.burst ? .busy : .faint))
                if let runnable = admission.runnable, let mark = admission.lowWatermark {
                    pieces.append((" runnable \(runnable) \(runnable < mark ? "<" : "≥") \(mark)", .faint))
                }
            }
            lines.append(pieces)
        }
        if let stats = state.runtimeStats {
            var pieces: [(String, Style)] = [("runtime_stats ", .title)]
            var text = "queue \(stats.queueDepth.map(String.init) ?? "?") inflight \(stats.inflightWorkers.map(String.init) ?? "?")"
            if let warm = stats.warmTasks, warm > 0 { text += " warm \(warm)" }
            let states = stats.groupsByState.filter { $0.value > 0 && $0.key != "DONE" }.sorted { $0.key < $1.key }
            if !states.isEmpty { text += " · " + states.map { "\($0.key.lowercased()) \($0.value)" }.joined(separator: " ") }
            pieces.append((text, .plain))
            pieces.append((" at " + Glyphs.clock(stats.at), .faint))
            lines.append(pieces)
        }
        return lines
    }

    // MARK: Sparklines

    static func drawSparklines(_ state: DashboardState, into canvas: inout Canvas) {
        let width = max(10, canvas.width - 26)
        for (label, series, style) in [("jobs/s", state.throughput, Style.good), ("ready", state.queueDepth, Style.info)] {
            let top = series.values.suffix(width).max() ?? 0
            canvas.line([
                (Glyphs.fit(label, 7), .faint), (Glyphs.sparkline(series.values, width: width), style),
                (" max " + Glyphs.count(top) + ", \(min(width, series.values.count))s", .faint),
            ])
        }
    }

    // MARK: Groups

    static let groupFields: Set<String> = ["group", "lane", "state", "primer"]

    /// The groups list: active first (oldest first), then finished (newest first), filtered by the context
    /// (`lane:priority state:failed`, bare words search the key and lane).
    static func groupRows(_ state: DashboardState, _ context: ViewContext) -> [DashboardState.Group] {
        let filter = FieldFilter(context.filter, fields: groupFields)
        let all = state.groups.values.filter { group in
            filter.matches({ field in
                switch field {
                case "group": group.key
                case "lane": group.lane
                case "state": group.state
                case "primer": group.primer
                default: nil
                }
            }, text: group.key + " " + (group.lane ?? ""))
        }
        let active = all.filter(\.isActive).sorted { ($0.activatedAt, $0.key) < ($1.activatedAt, $1.key) }
        let finished = all.filter { !$0.isActive }.sorted { ($0.finishedAt ?? 0, $0.key) > ($1.finishedAt ?? 0, $1.key) }
        return active + finished
    }

    static func drawGroups(_ state: DashboardState, _ context: ViewContext, rows: Int, into canvas: inout Canvas) {
        let groups = groupRows(state, context)
        let active = groups.filter(\.isActive).count
        let prefix = sharedPrefix(groups.map(\.key))
        var title = "Groups" + (prefix.isEmpty ? "" : " \(prefix)…") + ": \(active) active, \(groups.count - active) recently finished"
        if !context.filter.isEmpty { title += " matching \"\(context.filter)\"" }
        canvas.section(title)
        guard rows > 0 else { return }
        let selected = min(max(0, context.selected), max(0, groups.count - 1))
        let first = max(0, min(selected - rows + 1, groups.count - rows))
        let barWidth = max(6, min(40, (canvas.width - 64) / 2))
        let keyWidth = max(12, min(32, canvas.width - barWidth - 50))
        for (index, group) in groups.enumerated().dropFirst(first).prefix(rows) {
            let settled = group.followersDone + group.followersFailed
            let fraction = group.followers == 0 ? (group.isActive ? 0 : 1) : Double(settled) / Double(group.followers)
            let stateStyle: Style = switch group.state {
            case "succeeded": .good
            case "failed": .bad
            case "cancelled": .faint
            default: .busy
            }
            var pieces: [(String, Style)] = [
                (Glyphs.fitTail(String(group.key.dropFirst(prefix.count)), keyWidth) + " ", .plain),
                (Glyphs.fit(group.lane ?? "", 10) + " ", .faint),
                (Glyphs.fit(group.isActive && group.warming ? "warming" : group.state, 10), stateStyle),
                (Glyphs.fit("primer " + primerMark(group.primer), 10), group.primer == "failed" ? .bad : .plain),
                (Glyphs.bar(fraction, width: barWidth), group.followersFailed > 0 ? .bad : .good),
                (Glyphs.fit("\(group.followersDone)/\(group.followers)", 9, right: true), .plain),
            ]
            if group.followersFailed > 0 { pieces.append((" ✗\(group.followersFailed)", .bad)) }
            if index == selected && context.screen == .dashboard {
                pieces = pieces.map { ($0.0, Style(color: $0.1.color, bold: true, inverse: true)) }
            }
            canvas.line(pieces)
        }
    }

    /// The start every key shares, up to its last `/` or `:` (acty-demo's run id), so rows show what differs;
    /// empty for fewer than two keys.
    static func sharedPrefix(_ keys: [String]) -> String {
        guard keys.count > 1, var shared = keys.first?[...] else { return "" }
        for key in keys.dropFirst() {
            shared = shared.prefix(zip(shared, key).prefix { $0 == $1 }.count)
            if shared.isEmpty { return "" }
        }
        guard let end = shared.lastIndex(where: { $0 == "/" || $0 == ":" }) else { return "" }
        return String(shared[...end])
    }

    static func primerMark(_ state: String) -> String {
        switch state {
        case "pending": "·"
        case "running": "▶"
        case "succeeded": "✓"
        case "failed": "✗"
        case "skipped": "↷ cache"
        default: "-"
        }
    }

    // MARK: Failures

    static func drawFailures(_ state: DashboardState, rows: Int, into canvas: inout Canvas) {
        canvas.section("Latest failures")
        for failure in state.failures.newest(rows) {
            canvas.line([
                (Glyphs.clock(failure.at) + " ", .faint),
                (failure.retried ? "retry " : "FAIL  ", failure.retried ? .busy : .bad),
                (Glyphs.fit(failure.job.map(Glyphs.shortID) ?? "-", 14) + " ", .plain),
                (canvas.width >= 120 ? Glyphs.fitTail(failure.group ?? "-", 28) + " " : "", .faint),
                (failure.errorType + (failure.message.isEmpty ? "" : ": "), .bad),
                (failure.message.replacingOccurrences(of: "\n", with: " "), .plain),
            ])
        }
    }
}
