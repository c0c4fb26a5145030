import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// Open groups fed over time: `submit` that makes the first payload the primer, `closeAllGroups`, `ActyClient`.
@Suite(.timeLimit(.minutes(1)))
struct OpenGroupOrchestrationTests {
    @Test func theFirstSubmittedPayloadBecomesThePrimerAndTheRestFollowers() async throws {
        let dir = TemporaryDirectory()
        let started = Recorder<String>()
        let work = ClosureExecutor(name: "work") { job in
            started.append("\(job.role.rawValue):\(job.payload.stringValue ?? "")")
            return job.payload
        }
        try await withEngine(dir, executors: [work]) { engine in
            let group = try await engine.openGroup("fed")
            let first = try await group.submit("first")
            let second = try await engine.submit("second", to: "fed")
            let third = try await group.submit("third")
            try await group.close()
            #expect(first.role == .primer)
            #expect(second.role == .follower && third.role == .follower)
            for handle in [first, second, third] { #expect(try await handle.boundedResult().status == .succeeded) }
            #expect(started.values.first == "primer:first", "followers wait for the primer: \(started.values)")
            #expect(try await engine.store.jobs(inGroup: group.id).filter { $0.role == .primer }.count == 1)
        }
    }

    @Test func concurrentSubmitsToAPrimerlessGroupMakeExactlyOnePrimer() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let group = try await engine.openGroup("race")
            let handles = try await withThrowingTaskGroup(of: JobHandle.self) { tasks in
                for index in 0..<12 { tasks.addTask { try await group.submit(.number(Double(index))) } }
                return try await tasks.reduce(into: []) { $0.append($1) }
            }
            #expect(handles.filter { $0.role == .primer }.count == 1)
            #expect(try await engine.store.jobs(inGroup: group.id).filter { $0.role == .primer }.count == 1)
            try await group.close()
            #expect(try await engine.waitForGroup("race", state: .succeeded))
        }
    }

    @Test func submittingToAnUnknownOrClosedGroupIsRefused() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            await expectError(.unknownGroup) { try await engine.submit("x", to: "nowhere") }
            let group = try await engine.openGroup("shut")
            try await group.close()
            await expectError(.groupClosed) { try await engine.submit("x", to: "shut") }
            await expectError(.groupClosed) { try await group.submit("x") }
            #expect(try await engine.store.jobs(inGroup: group.id).isEmpty)
        }
    }

    @Test func closeAllClosesEveryOpenGroupAndTheirJobsStillRun() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let a = try await engine.openGroup("a")
            let primer = try await a.submitPrimer("p")
            let follower = try await a.addFollower("f")
            let b = try await engine.openGroup("b")
            _ = try await engine.submitGroup("closed-already", primer: "p", followers: [])
            #expect(try await engine.closeAllGroups() == 2)
            #expect(try await follower.boundedResult().status == .succeeded)
            #expect(try await primer.boundedResult().status == .succeeded)
            #expect(try await engine.waitForGroup("a", state: .succeeded))
            // A group closed without a primer or followers has nothing to run: it finishes at once.
            #expect(try await engine.waitForGroup("b", state: .succeeded))
            await expectError(.groupClosed) { try await b.addFollower("late") }
        }
    }

    @Test func dropPendingCancelsEveryLiveGroupWithItsRunningJobs() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        defer { gate.open() }
        try await withEngine(dir, executors: [gated(by: gate)]) { engine in
            let submission = try await engine.submitGroup("busy", primer: "p", followers: ["f1", "f2"])
            let open = try await engine.openGroup("open")
            let late = try await open.addFollower("waits for a primer")
            #expect(try await waitUntil { try await engine.store.job(submission.primer!.id)?.state == .running })
            #expect(try await engine.closeAllGroups(mode: .dropPending) == 2)
            for handle in submission.jobs + [late] {
                #expect(try await handle.boundedResult().status == .cancelled)
            }
            #expect(try await engine.store.group(key: "busy")?.state == .cancelled)
            #expect(try await engine.store.group(key: "open")?.state == .cancelled)
            let cancelled = try await engine.allEvents().ofType(.jobCancelled)
            #expect(cancelled.count == 4)
            #expect(cancelled.contains { $0.data?.contains(#""phase":"running""#) == true })
        }
    }

    @Test func closeAllWithATimeoutCancelsWhatHasNotFinishedInTime() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        defer { gate.open() }
        try await withEngine(dir, executors: [gated(by: gate)]) { engine in
            let group = try await engine.openGroup("stuck")
            let primer = try await group.submitPrimer("never finishes")
            let started = ContinuousClock.now
            #expect(try await engine.closeAllGroups(timeout: .milliseconds(200)) == 2, "closed, then cancelled")
            #expect(ContinuousClock.now - started >= .milliseconds(200))
            #expect(try await primer.boundedResult().status == .cancelled)
            #expect(try await engine.store.group(key: "stuck")?.state == .cancelled)
        }
    }

    @Test func aClientCallRunsThePrimerAndLeavesTheGroupOpenForFollowers() async throws {
        let dir = TemporaryDirectory()
        let echo = ClosureExecutor(name: "echo") { job in ["role": .string(job.role.rawValue), "payload": job.payload] }
        try await withEngine(dir, executors: [echo]) { engine in
            let client = ActyClient(engine: engine)
            let primer = try await client.call("g1", primer: ["p": 1])
            #expect(primer.role == .primer && primer.status == .succeeded)
            #expect(primer.output == ["role": "primer", "payload": ["p": 1]])
            let follower = try await client.callFollower("g1", ["f": 1])
            #expect(follower.role == .follower && follower.groupKey == "g1")
            #expect(follower.output?["payload"] == ["f": 1])
            #expect(try await engine.store.group(key: "g1")?.state == .open)
            try await client.closeGroup("g1")
            #expect(try await engine.waitForGroup("g1", state: .succeeded))
            await expectError(.unknownGroup) { try await client.closeGroup("g1") }
        }
    }

    @Test func aClientCallOnALiveKeyIsRefused() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let client = ActyClient(engine: engine)
            _ = try await client.call("g2", primer: ["p": 2])
            await expectError(.groupKeyInUse) { try await client.call("g2", primer: ["p": 3]) }
            await expectError(.invalidArgument) { try await client.call(GroupSpec("no-primer", primer: nil)) }
            #expect(try await engine.store.allJobs().count == 1)
            #expect(try await engine.store.allGroups().map(\.key) == ["g2"])
        }
    }
}
