/// What a key asks of the event feed (replay position and speed) or the program.
package enum FeedCommand: Sendable, Hashable {
    case quit, togglePause, step, faster, slower, fullSpeed, jumpToStart, jumpToEnd
}

/// What keys do: screen changes are made on the context; feed commands are returned.
package enum KeyMap {
    package static func handle(_ key: Key, context: inout ViewContext, state: DashboardState) -> FeedCommand? {
        if context.editingFilter {
            switch key {
            case .enter: context.editingFilter = false
            case .escape:
                context.editingFilter = false
                context.filter = ""
            case .backspace: if !context.filter.isEmpty { context.filter.removeLast() }
            case .character(let character): context.filter.append(character)
            case .interrupt: return .quit
            default: break
            }
            context.selected = 0
            context.scroll = 0
            return nil
        }
        switch key {
        case .interrupt, .character("q"): return .quit
        case .character("p"): return .togglePause
        case .character("."): return .step
        case .character("+"), .character("="): return .faster
        case .character("-"): return .slower
        case .character("0"): return .fullSpeed
        case .character("g"): return .jumpToStart
        case .character("G"): return .jumpToEnd
        case .character("?"): open(.help, &context)
        case .character("t"): open(.timeline, &context)
        case .character("l"): open(.log, &context)
        case .character("/"):
            if context.screen == .dashboard || context.screen == .log {
                context.editingFilter = true
                context.filter = ""
            }
        case .up, .character("k"): move(-1, &context)
        case .down, .character("j"): move(1, &context)
        case .pageUp: move(-10, &context)
        case .pageDown: move(10, &context)
        case .enter: drillDown(&context, state)
        case .escape: back(&context, state)
        default: break
        }
        return nil
    }

    static func open(_ screen: ViewContext.Screen, _ context: inout ViewContext) {
        context.screen = context.screen == screen ? .dashboard : screen
        context.selected = 0
        context.scroll = 0
    }

    static func move(_ delta: Int, _ context: inout ViewContext) {
        if context.screen == .log {
            context.scroll = max(0, context.scroll - delta)
        } else {
            context.selected = max(0, context.selected + delta)
        }
    }

    static func drillDown(_ context: inout ViewContext, _ state: DashboardState) {
        switch context.screen {
        case .dashboard:
            let rows = DashboardScreen.groupRows(state, context)
            guard rows.indices.contains(context.selected) else { return }
            context.screen = .group(rows[context.selected].key)
            context.selected = 0
        case .group(let key):
            let jobs = DrillDown.jobs(of: key, in: state, context)
            guard jobs.indices.contains(context.selected) else { return }
            context.screen = .job(jobs[context.selected].id)
        default: break
        }
    }

    static func back(_ context: inout ViewContext, _ state: DashboardState) {
        switch context.screen {
        case .job(let id):
            let group = state.jobs[id]?.group ?? state.finishedJobs.elements.last { $0.id == id }?.group
                ?? context.groupJobs.first { $0.id == id }?.group
            context.screen = group.map { .group($0) } ?? .dashboard
        default:
            context.screen = .dashboard
            context.filter = ""
            context.groupJobs = []
        }
        context.selected = 0
        context.jobDetails = []
    }
}
