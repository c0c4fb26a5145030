import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// Dependencies across restarts: blocked groups and their timeouts are rows, so the next engine continues them,
/// also when a timeout came due while no engine ran.
@Suite(.timeLimit(.minutes(1)))
struct DependencyRestartTests {
    @Test func blockedGroupsSurviveARestartAndRunWhenTheirDependencyFinishesInTheNextEngine() async throws {
        let dir = TemporaryDirectory()
        let (closed, open, follower) = try await withEngine(dir) { engine in
            let closed = try await engine.submitGroup(
                "notes", primer: "p", followers: ["f"], dependsOn: [GroupDependency("review", policy: .requireSuccess)]
            )
            let open = try await engine.openGroup("digest", dependsOn: [GroupDependency("review")])
            let follower = try await open.addFollower("late")
            return (closed, open.id, follower.id)
        }
        try await withEngine(dir) { engine in
            #expect(try await engine.store.group(closed.groupID)?.dependenciesWaiting == 1)
            #expect(try await engine.store.jobs(inGroup: closed.groupID).allSatisfy { $0.state == .blocked })
            let reattached = try await engine.openGroup("digest")
            #expect(reattached.id == open)
            let primer = try await reattached.submitPrimer("p")
            try await reattached.close()
            #expect(try await engine.store.job(primer.id)?.state == .blocked)

            _ = try await engine.submitGroup("review", primer: "p")
            for job in closed.jobs { #expect(try await engine.handle(for: job.id).boundedResult().status == .succeeded) }
            #expect(try await engine.handle(for: follower).boundedResult().status == .succeeded)
            #expect(try await primer.boundedResult().status == .succeeded)
        }
    }

    @Test func aTimeoutThatCameDueWhileNoEngineRanIsAppliedByTheNextEngine() async throws {
        let dir = TemporaryDirectory()
        let (required, released) = try await withEngine(dir) { engine in
            let required = try await engine.submitGroup(
                "required", primer: "p", followers: ["f"],
                dependsOn: [GroupDependency("missing", policy: .requireSuccess, timeout: .seconds(600))]
            )
            let released = try await engine.submitGroup("released", primer: "p", dependsOn: [GroupDependency("missing", timeout: .seconds(600))])
            return (required, released)
        }
        // Nothing runs on the file now: ten minutes pass, as far as the stored due times say (the wall clock is not
        // the test's to move).
        let store = try Store(.file(dir.file()))
        let submittedAt = try #require(try await store.dependencies(ofGroup: required.groupID).first?.createdAt)
        #expect(try await store.dependencies(ofGroup: required.groupID).first?.dueAt == submittedAt + 600)
        #expect(try await store.dependencies(ofGroup: released.groupID).first?.state == "waiting")
        try await store.close()
        let due = WallClock.now - 1
        try executeSQL(dir.file(), "UPDATE group_dependencies SET due_at = \(due)")

        try await withEngine(dir) { engine in
            for job in required.jobs {
                let result = try await engine.handle(for: job.id).boundedResult()
                #expect(result.status == .failed)
                #expect(result.error?.type == "DependencyFailed")
            }
            #expect(try await engine.handle(for: released.primer!.id).boundedResult().status == .succeeded)
            for group in [required, released] {
                let row = try #require(try await engine.store.dependencies(ofGroup: group.groupID).first)
                #expect(row.state == "timed_out")
                #expect(try #require(row.resolvedAt) >= due)
            }
        }
    }

    @Test func aTimeoutStillAheadAtARestartIsAppliedWhenDueByTheNextEngine() async throws {
        let dir = TemporaryDirectory()
        let waiting = try await withEngine(dir) { engine in
            try await engine.submitGroup("waiting", primer: "p", dependsOn: [GroupDependency("missing", timeout: .milliseconds(800))])
        }
        try await withEngine(dir) { engine in
            #expect(try await engine.handle(for: waiting.primer!.id).boundedResult().status == .succeeded)
            let row = try #require(try await engine.store.dependencies(ofGroup: waiting.groupID).first)
            let attempt = try #require(try await engine.store.attempts(of: waiting.primer!.id).first)
            #expect(attempt.startedAt >= row.dueAt!)
            #expect(row.state == "timed_out")
        }
    }

    @Test func drainWaitsForADependencyTimeout() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let waiting = try await engine.submitGroup("waiting", primer: "p", dependsOn: [GroupDependency("missing", timeout: .milliseconds(300))])
            try await bounded("drain", timeout: .seconds(20)) { try await engine.drain() }
            #expect(try await engine.store.job(waiting.primer!.id)?.state == .succeeded)
        }
    }
}
