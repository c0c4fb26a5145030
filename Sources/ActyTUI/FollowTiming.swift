import ActyCore
import ArgumentParser
import Foundation

/// `acty-tui follow-timing <db>` (hidden, for Tools/tui-follow-bench.sh): what `follow` does, without a terminal,
/// timed. Opens the database as `follow` does and renders the first frame, then ticks and renders like the
/// interactive loop for --seconds, timing every refresh that found new events. Prints one JSON line.
struct FollowTiming: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow-timing", abstract: "Times follow's first frame and refreshes (for benchmarks).", shouldDisplay: false
    )

    @Argument(help: "The Acty database file.") var db: String
    @Option(help: "Seconds to follow after the first frame.") var seconds = 10.0
    @Option(help: "Seconds between reads of new events.") var pollInterval = 0.2
    @Option(help: "Columns of the frame.") var width = 160
    @Option(help: "Lines of the frame.") var height = 48

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now
        var (feed, state) = try FollowFeed.open(db, start: .lastN(200), pollInterval: pollInterval)
        let context = ViewContext(title: URL(fileURLWithPath: db).lastPathComponent, position: feed.position)
        var shown = View.render(state, context, width: width, height: height)
        _ = ANSI.frame(from: nil, to: shown, colors: true)
        let firstFrame = (clock.now - start).seconds
        var refreshes: [Double] = []
        var events: [Int] = []
        let end = clock.now + .seconds(seconds)
        while clock.now < end {
            Thread.sleep(forTimeInterval: 0.05)
            let before = state.applied
            let tickStart = clock.now
            guard try feed.tick(now: Date().timeIntervalSince1970, state: &state), state.applied > before else { continue }
            let grid = View.render(state, context, width: width, height: height)
            _ = ANSI.frame(from: shown, to: grid, colors: true)
            shown = grid
            refreshes.append((clock.now - tickStart).seconds)
            events.append(state.applied - before)
        }
        let sorted = refreshes.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        let result: JSONValue = [
            "first_frame_ms": .number(firstFrame * 1000),
            "refreshes": .number(Double(refreshes.count)),
            "events_per_refresh_median": .number(Double(events.sorted().dropFirst(events.count / 2).first ?? 0)),
            "refresh_ms_median": .number(percentile(0.5) * 1000),
            "refresh_ms_p99": .number(percentile(0.99) * 1000),
            "refresh_ms_max": .number((sorted.last ?? 0) * 1000),
            "jobs_seeded": .number(Double(state.jobsTotal)),
        ]
        print(result.jsonString)
    }
}
