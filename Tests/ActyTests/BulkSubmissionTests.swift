import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Many groups in one call (`submitGroups`) and many followers in one call (`OpenGroup.addFollowers`): one
/// transaction each, all or nothing, handles in order, recorded as single submissions are.
@Suite(.timeLimit(.minutes(1)))
struct BulkSubmissionTests {
    /// Groups of every shape: with and without primer, with 0 to 3 followers, and an empty one.
    static func mixedSpecs(prefix: String = "g") -> [GroupSpec] {
        var specs: [GroupSpec] = []
        for index in 0..<40 {
            let number = JSONValue.number(Double(index))
            let primer: JSONValue? = index % 5 == 4 ? nil : ["primer": number]
            let followers: [JSONValue] = (0..<(index % 4)).map { ["group": number, "follower": .number(Double($0))] }
            specs.append(GroupSpec("\(prefix)-\(index)", primer: primer, followers: followers))
        }
        specs.append(GroupSpec("\(prefix)-empty"))
        return specs
    }

    @Test func handlesComeBackInTheOrderOfTheSpecsAndEachReturnsItsOwnJob() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let specs = Self.mixedSpecs()
        let submissions = try await engine.submitGroups(specs)
        #expect(submissions.map(\.groupKey) == specs.map(\.key))
        for (spec, submission) in zip(specs, submissions) {
            #expect((submission.primer != nil) == (spec.primer != nil))
            #expect(submission.followers.count == spec.followers.count)
            let group = try #require(try await engine.store.group(key: spec.key))
            #expect(group.id == submission.groupID)
            let rows = try await engine.store.jobs(inGroup: submission.groupID)
            #expect(Set(rows.map(\.id)) == Set(submission.jobs.map(\.id)))
            if let primer = submission.primer {
                #expect(primer.role == .primer)
                #expect(try await primer.boundedResult().output == spec.primer)
            }
            for (index, follower) in submission.followers.enumerated() {
                #expect(follower.role == .follower)
                #expect(try await engine.store.job(follower.id)?.followerIndex == index)
                // The echo executor returns the payload: the handle belongs to this spec's follower `index`.
                #expect(try await follower.boundedResult().output == spec.followers[index])
            }
        }
        for spec in specs { #expect(try await engine.waitForGroup(spec.key, state: .succeeded)) }
        #expect(try await engine.submitGroups([]).isEmpty)
        try await engine.boundedShutdown()
    }

    /// A spec the call must refuse, placed second of three.
    enum BadSpec: String, CaseIterable, Sendable {
        case liveKey, keyTwice, nonFinitePayload, unknownExecutor, unknownLane, emptyKey, nonPositiveTimeout

        var spec: GroupSpec {
            switch self {
            case .liveKey: GroupSpec("live", primer: "p")
            case .keyTwice: GroupSpec("first", primer: "again")
            case .nonFinitePayload: GroupSpec("bad", primer: "p", followers: ["ok", ["x": .number(.nan)]])
            case .unknownExecutor: GroupSpec("bad", primer: "p", executor: "missing")
            case .unknownLane: GroupSpec("bad", primer: "p", lane: "nowhere")
            case .emptyKey: GroupSpec("", primer: "p")
            case .nonPositiveTimeout: GroupSpec("bad", primer: "p", options: GroupOptions(jobTimeout: .zero))
            }
        }

        var code: ActyError.Code {
            switch self {
            case .liveKey, .keyTwice: .groupKeyInUse
            case .nonFinitePayload: .encodingFailed
            case .unknownExecutor: .unknownExecutor
            case .unknownLane: .unknownLane
            case .emptyKey, .nonPositiveTimeout: .invalidArgument
            }
        }
    }

    @Test(arguments: BadSpec.allCases)
    func aRefusedSpecNamesItselfAndNothingOfTheCallIsStored(bad: BadSpec) async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(strictLanes: true))
        let live = try await engine.openGroup("live")
        let before = try Self.rowCounts(dir.file())
        let specs = [GroupSpec("first", primer: "p", followers: ["f"]), bad.spec, GroupSpec("last", primer: "p")]
        let error = await #expect(throws: ActyError.self) { try await engine.submitGroups(specs) }
        #expect(error?.code == bad.code, "\(String(describing: error))")
        #expect(error?.message.hasPrefix("group spec 1 of 3 (key '\(bad.spec.key)'): ") == true, "\(String(describing: error))")
        #expect(error?.message.hasSuffix("none of the 3 groups was stored") == true)
        #expect(try Self.rowCounts(dir.file()) == before, "nothing of the refused call is in the database")

        // The same call without the bad spec goes through.
        let submissions = try await engine.submitGroups([specs[0], specs[2]])
        for job in submissions.flatMap(\.jobs) { #expect(try await job.boundedResult().status == .succeeded) }
        try await live.close()
        try await engine.boundedShutdown()
    }

    @Test func aCallOfFiveThousandGroupsCommitsThemAllAndEveryResultArrives() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 4, followerWorkers: 8), executors: [NoopExecutor()])
        let specs = (0..<5000).map { GroupSpec("big-\($0)", primer: ["n": .number(Double($0))], followers: ["a", "b"]) }
        let submissions = try await engine.submitGroups(specs)
        #expect(submissions.count == 5000)
        #expect(Set(submissions.map(\.groupID)).count == 5000)
        let handles = submissions.flatMap(\.jobs)
        #expect(Set(handles.map(\.id)).count == 15_000)
        for handle in handles { #expect(try await handle.boundedResult().status == .succeeded) }
        let summary = try await engine.store.summary()
        #expect(summary.groupsByState == [.succeeded: 5000])
        #expect(summary.jobsByState == [.succeeded: 15_000])
        try await engine.boundedShutdown()
    }

    @Test func eventsAndSummaryAreThoseOfTheSameGroupsSubmittedOneByOne() async throws {
        let single = TemporaryDirectory()
        let bulk = TemporaryDirectory()
        let specs = Self.mixedSpecs()
        let one = try await makeEngine(single)
        for spec in specs {
            _ = try await one.submitGroup(spec.key, primer: spec.primer, followers: spec.followers)
        }
        let many = try await makeEngine(bulk)
        _ = try await many.submitGroups(specs)
        for engine in [one, many] {
            for spec in specs { #expect(try await engine.waitForGroup(spec.key, state: .succeeded)) }
        }
        let (oneEvents, manyEvents) = (try await one.allEvents(), try await many.allEvents())
        let (oneSummary, manySummary) = (try await one.store.summary(), try await many.store.summary())
        try await one.boundedShutdown()
        try await many.boundedShutdown()

        #expect(manySummary.groupsByState == oneSummary.groupsByState)
        #expect(manySummary.jobsByState == oneSummary.jobsByState)
        #expect(manySummary.jobsByRole == oneSummary.jobsByRole)
        #expect(manySummary.attempts == oneSummary.attempts)
        #expect(Self.typeCounts(manyEvents) == Self.typeCounts(oneEvents))
        // Each group's submission events, in order, are those of a single submit.
        let submissionTypes: Set<String> = [EventType.groupActivated, .jobQueued, .followersReady, .cacheHit].map(\.rawValue).reduce(into: []) {
            $0.insert($1)
        }
        for spec in specs {
            let oneLog = Self.groupLog(oneEvents, key: spec.key).filter { submissionTypes.contains($0) }
            let manyLog = Self.groupLog(manyEvents, key: spec.key).filter { submissionTypes.contains($0) }
            #expect(manyLog == oneLog, "\(spec.key)")
            #expect(manyLog.first == EventType.groupActivated.rawValue)
        }
        // export-jsonl writes one line per event: the same lines by type.
        let lines = { (events: [EventRecord]) in
            Dictionary(grouping: events.filter { $0.groupID != nil }.map { $0.jsonlLine() }) { line in
                (try? JSONValue(jsonString: line))?["type"]?.stringValue ?? "?"
            }.mapValues(\.count)
        }
        #expect(lines(manyEvents) == lines(oneEvents))
    }

    @Test func addFollowersAddsThemInOrderToAnOpenGroupAndRefusesAClosedOne() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let group = try await engine.openGroup("open")
        let early = try await group.addFollowers([["n": 0], ["n": 1], ["n": 2]])
        #expect(early.map(\.role) == [.follower, .follower, .follower])
        for (index, handle) in early.enumerated() {
            let row = try #require(try await engine.store.job(handle.id))
            #expect(row.state == .blocked)
            #expect(row.followerIndex == index)
        }
        let primer = try await group.submitPrimer("p")
        #expect(try await primer.boundedResult().status == .succeeded)
        let late = try await group.addFollowers([["n": 3], ["n": 4]])
        #expect(try await group.addFollowers([]).isEmpty)
        for (index, handle) in (early + late).enumerated() {
            #expect(try await handle.boundedResult().output == ["n": .number(Double(index))])
            #expect(try await engine.store.job(handle.id)?.followerIndex == index)
        }
        #expect(try await engine.store.group(key: "open")?.jobsTotal == 6)

        // A bad payload refuses the whole call.
        let before = try Self.rowCounts(dir.file())
        let bad = await #expect(throws: ActyError.self) { try await group.addFollowers(["ok", ["x": .number(.infinity)]]) }
        #expect(bad?.code == .encodingFailed)
        #expect(bad?.message.contains("follower 1 of the 2") == true, "\(String(describing: bad))")
        #expect(try Self.rowCounts(dir.file()) == before)

        try await group.close()
        #expect(try await engine.waitForGroup("open", state: .succeeded))
        let closed = await #expect(throws: ActyError.self) { try await group.addFollowers(["a", "b"]) }
        #expect(closed?.code == .groupClosed)
        #expect(try Self.rowCounts(dir.file()).jobs == before.jobs)
        try await engine.boundedShutdown()
    }

    @Test func followersAddedAfterTheirPrimerFailedUnderSkipFollowersAreCancelledTogether() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, executors: [failingOnRequest()])
        let group = try await engine.openGroup("skipping", options: GroupOptions(primerFailurePolicy: .skipFollowers))
        let primer = try await group.submitPrimer(["fail": true])
        #expect(try await primer.boundedResult().status == .failed)
        let followers = try await group.addFollowers(["a", "b", "c"])
        for follower in followers { #expect(try await follower.boundedResult().status == .cancelled) }
        try await group.close()
        try await engine.boundedShutdown()
    }

    @Test func bulkCallsRunAlongsideSingleSubmitsAndARefusedCallDoesNotDisturbThem() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 2, followerWorkers: 4), executors: [NoopExecutor()])
        _ = try await engine.openGroup("taken")
        let refused = Recorder<ActyError>()
        let submissions = try await withThrowingTaskGroup(of: [GroupSubmission].self) { tasks in
            for task in 0..<4 {
                tasks.addTask {
                    var submitted: [GroupSubmission] = []
                    for call in 0..<5 {
                        let specs = (0..<30).map { GroupSpec("bulk-\(task)-\(call)-\($0)", primer: "p", followers: ["a", "b"]) }
                        submitted += try await engine.submitGroups(specs)
                        // A refused call between them: the writer rolls back its batch and runs the others again.
                        do {
                            _ = try await engine.submitGroups([GroupSpec("refused-\(task)-\(call)", primer: "p"), GroupSpec("taken")])
                        } catch let error as ActyError {
                            refused.append(error)
                        }
                    }
                    return submitted
                }
                tasks.addTask {
                    var submitted: [GroupSubmission] = []
                    for index in 0..<40 {
                        submitted.append(try await engine.submitGroup("single-\(task)-\(index)", primer: "p", followers: ["a"]))
                    }
                    return submitted
                }
            }
            var all: [GroupSubmission] = []
            for try await part in tasks { all += part }
            return all
        }
        #expect(submissions.count == 760, "4 tasks of 5 calls of 30 groups, and 4 of 40 single submits")
        #expect(refused.count == 20)
        #expect(refused.values.allSatisfy { $0.code == .groupKeyInUse })
        try await expectEveryJobSucceededOnce(submissions, on: engine)
        let keys = Set(try await engine.store.allGroups().map(\.key))
        #expect(!keys.contains { $0.hasPrefix("refused-") })
        try await engine.boundedShutdown()
    }

    @Test func anEngineShuttingDownDuringBulkCallsLeavesEachCallWholeOrAbsentAndNoHandleHangs() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 2, followerWorkers: 4), executors: [NoopExecutor()])
        let calls = Recorder<[GroupSubmission]>()
        let submitting = Task {
            var call = 0
            while true {
                let specs = (0..<200).map { GroupSpec("call-\(call)-\($0)", primer: "p", followers: ["a", "b"]) }
                do {
                    calls.append(try await engine.submitGroups(specs))
                } catch {
                    return error
                }
                call += 1
            }
        }
        try await require("a bulk call to commit") { calls.count > 0 }
        try await engine.boundedShutdown()
        let error = await submitting.value
        #expect((error as? ActyError)?.code == .engineStopped, "\(error)")

        // Every handle either has its result or says the engine stopped: none waits forever.
        for handle in calls.values.joined().flatMap(\.jobs) {
            do {
                _ = try await handle.boundedResult(timeout: .seconds(10))
            } catch let error as ActyError {
                #expect(error.code == .engineStopped)
            }
        }
        // Each call is in the file whole or not at all.
        let counts = try Self.groupsByCall(dir.file())
        #expect(counts.values.allSatisfy { $0 == 200 }, "\(counts)")
        #expect(counts.count >= calls.count)
    }

    @Test func aProcessKilledWhileItSubmitsInBulkLeavesEveryCallWholeOrAbsent() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        // 8 submitters, each with calls of exactly 200 groups of 3 jobs: far more than it inserts before its kill, even
        // when a loaded machine leaves this test slow to see the first call.
        let child = try TestWorkerProcess(
            ["submit", "--database", database, "--groups", "400000", "--followers", "2", "--bulk", "200"], in: dir, name: "submit"
        )
        try await require("the submitter to commit a call") { (try? Self.rowCounts(database).groups) ?? 0 > 0 }
        try await Task.sleep(for: .milliseconds(Int.random(in: 0...50)))
        child.kill()
        let exit = try await child.waitForExit(timeout: .seconds(10))
        #expect(exit == .signal(SIGKILL), "the submitter finished before its kill: \(child.stdout)")

        let counts = try Self.rowCounts(database)
        #expect(counts.groups > 0 && counts.groups % 200 == 0, "\(counts.groups) groups")
        #expect(counts.jobs == counts.groups * 3)
        let queue = try DatabaseQueue(path: database)
        defer { try? queue.close() }
        let (integrity, incomplete, activated, queued) = try await queue.read { db in
            (
                try String.fetchOne(db, sql: "PRAGMA integrity_check"),
                try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM groups
                    WHERE jobs_total != 3 OR (SELECT COUNT(*) FROM jobs WHERE jobs.group_id = groups.id) != 3
                    """),
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE type = 'group_activated'"),
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE type = 'job_queued'")
            )
        }
        #expect(integrity == "ok")
        #expect(incomplete == 0)
        #expect(activated == counts.groups)
        #expect(queued == counts.jobs)
        print("BulkSubmissionTests: the submitter was killed with \(counts.groups / 200) calls of 200 groups committed")
    }

    @Test func aSubmissionCommittedAsTheEngineStopsGetsHandlesThatSaySoInsteadOfWaitingForever() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        // What shutdown does to the result registry, then the inserted callback of a write that was already queued.
        engine.registry.failAll(ActyError(.engineStopped, "the engine shut down"))
        let slots = engine.registry.register([JobID(1), JobID(2)])
        for slot in slots {
            let error = await #expect(throws: ActyError.self) { try await slot.value() }
            #expect(error?.code == .engineStopped)
        }
        try await engine.boundedShutdown()
    }

    // MARK: Helpers

    /// Rows of the tables a submission writes, read through a plain SQLite connection.
    static func rowCounts(_ path: String) throws -> RowCounts {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            RowCounts(
                groups: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM groups") ?? -1,
                jobs: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") ?? -1,
                events: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? -1,
                lanes: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM lanes") ?? -1
            )
        }
    }

    struct RowCounts: Equatable {
        var groups: Int
        var jobs: Int
        var events: Int
        var lanes: Int
    }

    /// Stored groups per bulk call, from keys `call-<n>-<i>`.
    static func groupsByCall(_ path: String) throws -> [String: Int] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        let keys = try queue.read { try String.fetchAll($0, sql: "SELECT key FROM groups") }
        return Dictionary(grouping: keys) { $0.split(separator: "-").prefix(2).joined(separator: "-") }.mapValues(\.count)
    }

    static func typeCounts(_ events: [EventRecord]) -> [String: Int] {
        Dictionary(grouping: events.filter { $0.groupID != nil }, by: \.type).mapValues(\.count)
    }

    /// The types of a group's events, in order.
    static func groupLog(_ events: [EventRecord], key: String) -> [String] {
        events.filter { $0.groupKey == key }.map(\.type)
    }
}
