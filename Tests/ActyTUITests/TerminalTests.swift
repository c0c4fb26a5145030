import ActyCore
import ActyTUI
import Foundation
import Testing

/// The terminal layer's pure parts: frame diffs, colour rules, keys, and the replay feed's controls.
@Suite(.timeLimit(.minutes(1)))
struct TerminalTests {
    @Test func firstFrameClearsAndLaterFramesWriteOnlyChangedCells() {
        var grid = Grid(width: 10, height: 3)
        grid.write("hello", x: 0, y: 0)
        let first = ANSI.frame(from: nil, to: grid, colors: false)
        #expect(first.contains("\u{1B}[2J") && first.contains("hello"))
        var next = grid
        next.write("J", x: 0, y: 0)
        next.write("!", x: 9, y: 2, style: .bad)
        let diff = ANSI.frame(from: grid, to: next, colors: true)
        #expect(diff == "\u{1B}[1;1H\u{1B}[0mJ\u{1B}[3;10H\u{1B}[0;31m!\u{1B}[0m")
        #expect(ANSI.frame(from: next, to: next, colors: true).isEmpty)
        // A new size redraws everything.
        #expect(ANSI.frame(from: grid, to: Grid(width: 11, height: 3), colors: false).contains("\u{1B}[2J"))
    }

    @Test func colourOnlyOnATerminalWithoutNoColor() {
        var grid = Grid(width: 4, height: 1)
        grid.write("x", x: 0, y: 0, style: .bad)
        grid.write("s", x: 1, y: 0, style: .selected)
        let plain = ANSI.frame(from: nil, to: grid, colors: false)
        #expect(!plain.contains("31m") && plain.contains("\u{1B}[0;7m"))
        #expect(ANSI.frame(from: nil, to: grid, colors: true).contains("\u{1B}[0;31m"))
        #expect(ANSI.usesColor(isTerminal: true, environment: [:]))
        #expect(!ANSI.usesColor(isTerminal: false, environment: [:]))
        #expect(!ANSI.usesColor(isTerminal: true, environment: ["NO_COLOR": "1"]))
        #expect(!ANSI.usesColor(isTerminal: true, environment: ["TERM": "dumb"]))
    }

    @Test func keysDecodeFromRawBytes() {
        #expect(Key.parse(Array("q?".utf8)) == [.character("q"), .character("?")])
        #expect(Key.parse([0x1B, 0x5B, 0x41, 0x1B, 0x5B, 0x42, 0x0D, 0x7F, 0x03]) == [.up, .down, .enter, .backspace, .interrupt])
        #expect(Key.parse([0x1B]) == [.escape])
        #expect(Key.parse([0x1B, 0x5B, 0x36, 0x7E, 0x67]) == [.pageDown, .character("g")])
        #expect(Key.parse(Array("é".utf8)) == [.character("é")])
    }

    @Test func keysMoveBetweenScreensFilterAndDrillDown() throws {
        let state = try ViewTests.pythonState()
        var context = ViewContext(title: "t")
        #expect(KeyMap.handle(.character("t"), context: &context, state: state) == nil && context.screen == .timeline)
        _ = KeyMap.handle(.escape, context: &context, state: state)
        #expect(context.screen == .dashboard)
        for key in [Key.character("/"), .character("g"), .character("3"), .character("4"), .enter] {
            #expect(KeyMap.handle(key, context: &context, state: state) == nil)
        }
        #expect(context.filter == "g34" && !context.editingFilter)
        _ = KeyMap.handle(.enter, context: &context, state: state)
        #expect(context.screen == .group("background:g34"))
        _ = KeyMap.handle(.enter, context: &context, state: state)
        guard case .job(let id) = context.screen else {
            Issue.record("enter on a group's job opens it, got \(context.screen)")
            return
        }
        #expect(id.hasPrefix("background:g34:"))
        _ = KeyMap.handle(.escape, context: &context, state: state)
        #expect(context.screen == .group("background:g34"))
        // The log: ↑ scrolls back; typing a per-field filter starts again from the newest events.
        context = ViewContext(title: "t")
        for key in [Key.character("l"), .up, .up] { _ = KeyMap.handle(key, context: &context, state: state) }
        #expect(context.screen == .log && context.scroll == 2)
        for key in [Key.character("/")] + "type:job_failed -lane:priority".map(Key.character) + [.enter] {
            _ = KeyMap.handle(key, context: &context, state: state)
        }
        #expect(context.filter == "type:job_failed -lane:priority" && context.scroll == 0 && !context.editingFilter)
        #expect(View.render(state, context, width: 100, height: 30).plainText.contains("Event log: 6 of the last 854 events"))
        #expect(KeyMap.handle(.character("q"), context: &context, state: state) == .quit)
        #expect(KeyMap.handle(.character("+"), context: &context, state: state) == .faster)
    }

    @Test func replayFeedFollowsSpeedPauseStepAndJumps() throws {
        let contents = try RunLog.load(Fixture.pythonRun)
        var feed = ReplayFeed(events: contents.events, badLines: 0, speed: 1)
        var state = DashboardState()
        let start = contents.events[0].at
        #expect(feed.tick(now: 1000, state: &state))
        #expect(feed.index >= 1)
        // 0.1 s of wall clock at ×1 replays exactly the events of the run's first 0.1 s.
        _ = feed.tick(now: 1000.1, state: &state)
        #expect(feed.index == contents.events.filter { $0.at <= start + 0.1 + 1e-9 }.count)
        _ = feed.handle(.togglePause, state: &state)
        let paused = feed.index
        _ = feed.tick(now: 1010, state: &state)
        #expect(feed.index == paused && feed.position.contains("paused"))
        _ = feed.handle(.step, state: &state)
        #expect(feed.index == paused + 1 && state.applied == paused + 1)
        _ = feed.handle(.faster, state: &state)
        #expect(feed.speed == 2)
        _ = feed.handle(.slower, state: &state)
        _ = feed.handle(.slower, state: &state)
        #expect(feed.speed == 0.5)
        _ = feed.handle(.jumpToEnd, state: &state)
        #expect(feed.index == contents.events.count && state.total(.succeeded) == 152)
        _ = feed.handle(.jumpToStart, state: &state)
        #expect(feed.index == 0 && state.jobsTotal == 0)
        _ = feed.handle(.fullSpeed, state: &state)
        _ = feed.handle(.togglePause, state: &state)
        _ = feed.tick(now: 1011, state: &state)
        #expect(feed.index == contents.events.count && feed.position.contains("max"))
    }
}
