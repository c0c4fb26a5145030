import ActyCore
import ActyStore
import ActyTestSupport
@testable import ActyTUI
import Foundation
import Testing

/// The view layer: fixed states drawn as text and compared with files under Snapshots/. To accept a deliberate
/// change, run the suite with ACTY_RECORD_SNAPSHOTS=1 and review the diff of the .txt files.
@Suite(.timeLimit(.minutes(1)))
struct ViewTests {
    /// The Python fixture after its first `count` events (all of them when nil).
    static func pythonState(events count: Int? = nil) throws -> DashboardState {
        let contents = try RunLog.load(Fixture.pythonRun)
        var state = DashboardState()
        for event in contents.events.prefix(count ?? contents.events.count) { state.apply(event) }
        return state
    }

    static let cases: [(name: String, events: Int?, screen: ViewContext.Screen, width: Int, height: Int)] = [
        ("log-filtered-80x24", nil, .log, 80, 24),
        ("dashboard-end-80x24", nil, .dashboard, 80, 24),
        ("dashboard-end-160x48", nil, .dashboard, 160, 48),
        ("dashboard-mid-80x24", 300, .dashboard, 80, 24),
        ("dashboard-mid-160x48", 300, .dashboard, 160, 48),
        ("timeline-mid-80x24", 300, .timeline, 80, 24),
        ("log-end-80x24", nil, .log, 80, 24),
        ("help-80x24", nil, .help, 80, 24),
        ("group-160x48", nil, .group("background:g34"), 160, 48),
    ]

    @Test(arguments: cases.indices)
    func frameMatchesItsSnapshot(index: Int) throws {
        let test = Self.cases[index]
        let state = try Self.pythonState(events: test.events)
        var context = ViewContext(title: "run-a.jsonl", screen: test.screen, position: test.events.map { "event \($0)/854" })
        context.selected = 1
        if test.name.hasPrefix("log-filtered") { context.filter = "-type:job_requeued lane:background group:g34 type:job_*" }
        let text = View.render(state, context, width: test.width, height: test.height).plainText
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == test.height)
        #expect(lines.allSatisfy { $0.count <= test.width })
        try Snapshots.assertMatches(text, named: test.name)
    }

    /// Python acty's admission, burst and runtime_stats (in the pools area), a group in its warm delay, deferrals.
    @Test(arguments: [(80, 24), (160, 48)])
    func pythonAdmissionFrameMatchesItsSnapshot(width: Int, height: Int) throws {
        let state = try RunLog.state(of: Fixture.pythonAdmission)
        let text = View.render(state, ViewContext(title: "python-admission.jsonl"), width: width, height: height).plainText
        #expect(text.contains("admission 2/2 groups active (cap 1+1) · 0 pending · BURST ON runnable 0 < 3"))
        #expect(text.contains("runtime_stats queue 0 inflight 1 · followers_ready 1"))
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("C ") && $0.contains("warming") })
        try Snapshots.assertMatches(text, named: "admission-\(width)x\(height)")
    }

    @Test func logFilterMatchesPerFieldExcludesAndSearchesWords() throws {
        let state = try Self.pythonState()
        func shown(_ filter: String) -> [TUIEvent] {
            var context = ViewContext(title: "t", screen: .log)
            context.filter = filter
            return LogScreen.events(state, context)
        }
        let failed = shown("type:job_failed")
        #expect(failed.count == 7 && failed.allSatisfy { $0.type == "job_failed" })
        // Different fields must all match; a group's last part names it; one field's terms are alternatives.
        let background = shown("type:job_failed lane:background")
        #expect(background.count == 6 && background.allSatisfy { $0.lane == "background" })
        #expect(shown("group:g34 type:job_started").map(\.job) == ["background:g34:primer:139"])
        #expect(shown("group:g34 type:job_failed type:job_retrying").count == 3)
        // Exclusion, prefix and bare words.
        #expect(!shown("-type:job_requeued").contains { $0.type == "job_requeued" })
        #expect(shown("-type:job_requeued").count == state.log.count - 134)
        #expect(shown("type:warm_*").count == 80)
        #expect(shown("429").allSatisfy { LogScreen.line($0).contains("429") } && !shown("429").isEmpty)
        #expect(shown("kind:primer type:job_queued").count == 40)
        // Group filter: state and lane fields on the dashboard.
        var context = ViewContext(title: "t")
        context.filter = "state:failed"
        #expect(DashboardScreen.groupRows(state, context).map(\.key) == ["background:g34"])
        context.filter = "lane:priority -state:succeeded"
        #expect(DashboardScreen.groupRows(state, context).isEmpty)
    }

    @Test func dashboardShowsTheNumbersOfTheState() throws {
        let state = try Self.pythonState()
        let text = View.render(state, ViewContext(title: "run-a.jsonl"), width: 80, height: 24).plainText
        #expect(text.contains("jobs 159"))
        #expect(text.contains("done 152") && text.contains("failed 7"))
        #expect(text.contains("39 ok 1 failed"))
        #expect(text.contains("no engine alive"))
        #expect(text.contains("priority") && text.contains("67%") && text.contains("42%"))
    }

    @Test func filterKeepsMatchingGroupsAndTinyWindowsDoNotCrash() throws {
        let state = try Self.pythonState()
        var context = ViewContext(title: "run-a.jsonl")
        context.filter = "g34"
        let text = View.render(state, context, width: 100, height: 30).plainText
        #expect(text.contains("background:g34") && !text.contains("priority:g36 "))
        let admission = try RunLog.state(of: Fixture.pythonAdmission)
        for (width, height) in [(1, 1), (20, 5), (21, 6), (0, 0), (30, 12)] {
            for screen in [ViewContext.Screen.dashboard, .timeline, .log, .help, .group("x"), .group("B"), .job("1")] {
                _ = View.render(state, ViewContext(title: "t", screen: screen), width: width, height: height)
                _ = View.render(admission, ViewContext(title: "t", screen: screen), width: width, height: height)
            }
        }
    }

    /// A follow that read only the last events still drills into any group: its jobs come from the database, and a
    /// job's screen shows its attempts and its payload and result as indented JSON.
    @Test func drillDownReadsAGroupsJobsAndAJobsDetailsFromTheDatabase() async throws {
        let folder = TemporaryDirectory()
        let path = try await EngineRun.make(in: folder)
        let (_, state) = try FollowFeed.open(path, start: .lastN(3), pollInterval: 1)
        let store = try Store.openReadOnly(path)
        #expect(DrillDown.jobs(of: "g0", in: state, ViewContext(title: "t")).isEmpty)
        var context = ViewContext(title: "t", screen: .group("g0"))
        context.groupJobs = JobDetails.jobs(store, group: "g0")
        let jobs = DrillDown.jobs(of: "g0", in: state, context)
        #expect(jobs.map(\.role) == [.primer, .follower, .follower, .follower, .follower])
        #expect(jobs.map(\.follower) == [nil, 0, 1, 2, 3] && jobs.allSatisfy { $0.phase?.isTerminal == true })
        let text = View.render(state, context, width: 100, height: 30).plainText
        #expect(text.contains("follower #3") && text.contains("primer"))

        _ = KeyMap.handle(.enter, context: &context, state: state)
        guard case .job(let id) = context.screen else {
            Issue.record("enter on a group's job opens it, got \(context.screen)")
            return
        }
        #expect(id == jobs[0].id)
        context.jobDetails = JobDetails.lines(store, id)
        #expect(context.jobDetails.contains { $0.hasPrefix("attempt 1: succeeded") })
        // The primer's payload {"fail": false} as indented JSON.
        let payload = try #require(context.jobDetails.firstIndex(of: "payload:"))
        #expect(Array(context.jobDetails[payload...].prefix(4)) == ["payload:", "  {", "    \"fail\": false", "  }"])
        _ = KeyMap.handle(.escape, context: &context, state: state)
        #expect(context.screen == .group("g0"))
    }

    @Test func groupRowsDropTheStartEveryKeyShares() {
        #expect(DashboardScreen.sharedPrefix(["run-1-ab/priority/api-1", "run-1-ab/background/db-2"]) == "run-1-ab/")
        #expect(DashboardScreen.sharedPrefix(["run-1/priority/api-1", "run-1/priority/api-2"]) == "run-1/priority/")
        #expect(DashboardScreen.sharedPrefix(["priority:g0", "priority:g1", "background:g2"]).isEmpty)
        #expect(DashboardScreen.sharedPrefix(["run-1/priority/api-1"]).isEmpty)
    }

    @Test func replayPositionKeepsItsPlaceInANarrowHeader() throws {
        let state = try Self.pythonState()
        let position = "replay 854/854 ×0.0156 paused end"
        let context = ViewContext(title: "python-run-a.jsonl", position: position)
        let first = View.render(state, context, width: 80, height: 24).plainText.split(separator: "\n")[0]
        #expect(first.hasSuffix(position) && first.contains("no engine"), "\(first)")
    }

    @Test func emptyStateSaysNoEngineWasSeen() {
        let state = DashboardState()
        #expect(View.render(state, ViewContext(title: "empty"), width: 80, height: 24).plainText.contains("no engine seen"))
    }
}

enum Snapshots {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")

    static func assertMatches(_ text: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = folder.appendingPathComponent(name + ".txt")
        if ProcessInfo.processInfo.environment["ACTY_RECORD_SNAPSHOTS"] == "1" {
            try Data(text.utf8).write(to: url)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "frame \(name) differs from Snapshots/\(name).txt:\n\(text)", sourceLocation: sourceLocation)
    }
}
