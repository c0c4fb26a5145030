import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// Group dependencies (`dependsOn:`): the behaviours of Python acty's dependency gate tests, on the durable store.
@Suite(.timeLimit(.minutes(1)))
struct DependencyTests {
    private static let oneEach = EngineConfiguration(primerWorkers: 1, followerWorkers: 1)

    @Test func blockedGroupWaitsForADependencySubmittedLaterAndRunsOnceItIsDone() async throws {
        let dir = TemporaryDirectory()
        let gates = KeyedGates()
        gates.close("g-dep")
        try await withEngine(dir, Self.oneEach, executors: [gates.executor]) { engine in
            let blocked = try await engine.submitGroup("g-blocked", primer: ["p": 2], followers: [["f": 1]], dependsOn: [GroupDependency("g-dep")])
            #expect(try await engine.store.group(key: "g-blocked")?.dependenciesWaiting == 1)
            #expect(try await engine.store.jobs(inGroup: blocked.groupID).map(\.state) == [.blocked, .blocked])

            let dependency = try await engine.submitGroup("g-dep", primer: ["p": 1])
            try await require("the dependency's primer to run") { try await engine.store.job(dependency.primer!.id)?.state == .running }
            // The dependency runs, so it is bound; the dependent still holds its jobs back.
            #expect(try await engine.store.dependencies(ofGroup: blocked.groupID).map(\.dependencyID) == [dependency.groupID])
            #expect(try await engine.store.jobs(inGroup: blocked.groupID).map(\.state) == [.blocked, .blocked])

            gates.open("g-dep")
            #expect(try await blocked.primer!.boundedResult().status == .succeeded)
            #expect(try await blocked.followers[0].boundedResult().status == .succeeded)

            let events = try await engine.allEvents()
            let blockedEvents = events.ofType(.groupBlocked)
            #expect(blockedEvents.count == 1)
            #expect(blockedEvents.first?.groupID == blocked.groupID)
            #expect(try Self.data(blockedEvents.first) == ["dependency_id": "g-dep", "policy": "on_done"])
            let dependencyDone = try #require(events.ofType(.groupDone).first { $0.groupID == dependency.groupID })
            let unblocked = try #require(events.ofType(.groupUnblocked).first)
            #expect(unblocked.groupID == blocked.groupID)
            #expect(try Self.data(unblocked) == ["dependency_id": "g-dep", "policy": "on_done", "primer": true])
            // Unblocked in the transaction that finished the dependency: no event of another write in between.
            #expect(unblocked.seq == dependencyDone.seq + 1)
            #expect(try #require(events.onlySeq(.jobStarted, job: blocked.primer!.id)) > unblocked.seq)
            let row = try #require(try await engine.store.dependencies(ofGroup: blocked.groupID).first)
            #expect(row.state == "done")
            #expect(row.outcome == .succeeded)
            #expect(try await engine.store.group(key: "g-blocked")?.dependenciesWaiting == 0)
        }
    }

    @Test func openGroupTakesFollowersWhileBlockedAndRunsThemAfterward() async throws {
        let dir = TemporaryDirectory()
        let gates = KeyedGates()
        gates.close("g-dep")
        try await withEngine(dir, Self.oneEach, executors: [gates.executor]) { engine in
            let group = try await engine.openGroup("g-stream", dependsOn: [GroupDependency("g-dep")])
            let primer = try await group.submitPrimer(["p": 2])
            let follower = try await group.addFollower(["f": 1])
            #expect(try await engine.store.jobs(inGroup: group.id).map(\.state) == [.blocked, .blocked])

            let dependency = try await engine.submitGroup("g-dep", primer: ["p": 1])
            gates.open("g-dep")
            _ = try await dependency.primer!.boundedResult()
            #expect(try await follower.boundedResult().role == .follower)
            #expect(try await primer.boundedResult().status == .succeeded)
            try await group.close()
            #expect(try await engine.waitForGroup("g-stream", state: .succeeded))
        }
    }

    @Test func anEmptyGroupClosedWhileBlockedFinishesOnlyOnceUnblocked() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, Self.oneEach, executors: [KeyedGates().executor]) { engine in
            let empty = try await engine.openGroup("empty", dependsOn: [GroupDependency("g-dep")])
            try await empty.close()
            #expect(try await engine.store.group(empty.id)?.state == .closed)
            #expect(try await engine.store.group(empty.id)?.finishedAt == nil)
            _ = try await engine.submitGroup("g-dep", primer: "p").primer!.boundedResult()
            #expect(try await engine.waitForGroup("empty", state: .succeeded))
            let events = try await engine.allEvents().filter { $0.groupID == empty.id }.map(\.type)
            #expect(events == ["group_activated", "group_blocked", "group_closed", "group_unblocked", "group_done"])
        }
    }

    @Test func requireSuccessFailsEveryDependentWhenTheDependencyFails() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, Self.oneEach, executors: [KeyedGates().executor]) { engine in
            let policy = GroupDependency("g-dep", policy: .requireSuccess)
            var dependents: [GroupSubmission] = []
            for index in 0..<4 {
                dependents.append(try await engine.submitGroup("g-dependent-\(index)", primer: ["p": 2], followers: [["f": 1]], dependsOn: [policy]))
            }
            let dependency = try await engine.submitGroup("g-dep", primer: ["fail": true])
            #expect(try await dependency.primer!.boundedResult().status == .failed)

            for job in dependents.flatMap(\.jobs) {
                let result = try await job.boundedResult()
                #expect(result.status == .failed)
                #expect(result.error?.type == "DependencyFailed")
                #expect(result.error.map { $0.message.contains("'g-dep'") } == true, "\(String(describing: result.error))")
                #expect(result.attempts == 0)
            }
            for dependent in dependents {
                #expect(try await engine.store.group(dependent.groupID)?.state == .failed)
            }
            let events = try await engine.allEvents()
            let failed = events.ofType(.groupDependencyFailed)
            #expect(Set(failed.compactMap(\.groupID)) == Set(dependents.map(\.groupID)))
            for event in failed {
                #expect(try Self.data(event) == ["dependency_id": "g-dep", "policy": "require_success", "reason": "failed"])
            }
            #expect(events.ofType(.jobStarted).allSatisfy { $0.groupID == dependency.groupID })
            #expect(events.ofType(.groupUnblocked).isEmpty)
        }
    }

    @Test func waitsForEveryDependencyAndUnblocksOnceAfterTheLast() async throws {
        let dir = TemporaryDirectory()
        let gates = KeyedGates()
        let keys = (0..<5).map { "g-dep-\($0)" }
        for key in keys { gates.close(key) }
        try await withEngine(dir, Self.oneEach, executors: [gates.executor]) { engine in
            let dependent = try await engine.submitGroup("g-dependent", primer: ["p": 1], dependsOn: keys.map { GroupDependency($0) })
            let blocked = try await engine.allEvents().ofType(.groupBlocked)
            #expect(try Set(blocked.map { try Self.data($0)["dependency_id"] }) == Set(keys.map { JSONValue.string($0) }))

            for (index, key) in keys.enumerated() {
                let dependency = try await engine.submitGroup(key, primer: ["p": .string(key)])
                gates.open(key)
                _ = try await dependency.primer!.boundedResult()
                #expect(try await engine.store.group(key: "g-dependent")?.dependenciesWaiting == keys.count - index - 1)
                if index < keys.count - 1 {
                    #expect(try await engine.allEvents().ofType(.groupUnblocked).isEmpty)
                    #expect(try await engine.store.job(dependent.primer!.id)?.state == .blocked)
                }
            }
            #expect(try await dependent.primer!.boundedResult().status == .succeeded)
            let unblocked = try await engine.allEvents().ofType(.groupUnblocked)
            #expect(unblocked.count == 1)
            #expect(try Self.data(unblocked.first)["dependency_id"] == "g-dep-4")
        }
    }

    @Test func manyDependentsOfOneGroupAllUnblock() async throws {
        let dir = TemporaryDirectory()
        let gates = KeyedGates()
        gates.close("g-dep")
        try await withEngine(dir, Self.oneEach, executors: [gates.executor]) { engine in
            var dependents: [GroupSubmission] = []
            for index in 0..<4 {
                dependents.append(
                    try await engine.submitGroup("g-dependent-\(index)", primer: ["p": .number(Double(index))], dependsOn: [GroupDependency("g-dep")])
                )
            }
            _ = try await engine.submitGroup("g-dep", primer: ["p": 99])
            gates.open("g-dep")
            for dependent in dependents { #expect(try await dependent.primer!.boundedResult().status == .succeeded) }
            let unblocked = try await engine.allEvents().ofType(.groupUnblocked)
            #expect(Set(unblocked.compactMap(\.groupID)) == Set(dependents.map(\.groupID)))
        }
    }

    @Test func aBlockedGroupHoldsNoWorker() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, Self.oneEach, executors: [KeyedGates().executor]) { engine in
            let blocked = try await engine.submitGroup("blocked", primer: "p", followers: ["a", "b", "c"], dependsOn: [GroupDependency("never")])
            let others = try await engine.submitGroups((0..<6).map { GroupSpec("free-\($0)", primer: "p", followers: ["f"]) })
            for job in others.flatMap(\.jobs) { #expect(try await job.boundedResult().status == .succeeded) }
            #expect(try await engine.store.jobs(inGroup: blocked.groupID).allSatisfy { $0.state == .blocked })
            #expect(try await engine.groups(state: .closed).first { $0.key == "blocked" }?.dependenciesWaiting == 1)
        }
    }

    @Test func dependenciesWithinOneBulkCallRunInOrder() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, EngineConfiguration(primerWorkers: 4, followerWorkers: 4)) { engine in
            let submissions = try await engine.submitGroups([
                GroupSpec("release-notes", primer: ["agent": "writer"], dependsOn: [
                    GroupDependency("review-1", policy: .requireSuccess), GroupDependency("review-2", policy: .requireSuccess),
                ]),
                GroupSpec("review-1", primer: ["agent": "coordinator"], followers: [["agent": "ops"], ["agent": "perf"]]),
                GroupSpec("review-2", primer: ["agent": "coordinator"], followers: [["agent": "sec"]]),
            ])
            for job in submissions.flatMap(\.jobs) { #expect(try await job.boundedResult().status == .succeeded) }
            let events = try await engine.allEvents()
            let notesStarted = try #require(events.onlySeq(.jobStarted, job: submissions[0].primer!.id))
            for review in submissions.dropFirst() {
                let done = try #require(events.ofType(.groupDone).first { $0.groupID == review.groupID })
                #expect(done.seq < notesStarted)
            }
        }
    }

    @Test func aFinishedDependencyCountsAtOnceWithItsRecordedOutcome() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, Self.oneEach, executors: [KeyedGates().executor]) { engine in
            _ = try await engine.submitGroup("passed", primer: "p").primer!.boundedResult()
            _ = try await engine.submitGroup("broke", primer: ["fail": true]).primer!.boundedResult()
            #expect(try await engine.waitForGroup("broke", state: .failed))

            let afterSuccess = try await engine.submitGroup(
                "after-passed", primer: "p", dependsOn: [GroupDependency("passed", policy: .requireSuccess)]
            )
            #expect(try await afterSuccess.primer!.boundedResult().status == .succeeded)
            let onDone = try await engine.submitGroup("after-broke", primer: "p", dependsOn: [GroupDependency("broke")])
            #expect(try await onDone.primer!.boundedResult().status == .succeeded)
            let required = try await engine.submitGroup(
                "needs-broke", primer: "p", followers: ["f"], dependsOn: [GroupDependency("broke", policy: .requireSuccess)]
            )
            for job in required.jobs { #expect(try await job.boundedResult().error?.type == "DependencyFailed") }

            let events = try await engine.allEvents()
            #expect(events.ofType(.groupBlocked).isEmpty, "no group waited")
            let failed = events.ofType(.groupDependencyFailed)
            #expect(Set(failed.compactMap(\.groupID)) == [onDone.groupID, required.groupID])
            #expect(try await engine.store.dependencies(ofGroup: onDone.groupID).map(\.outcome) == [.failed])
        }
    }

    @Test func timeoutUnderOnDoneUnblocksAndUnderRequireSuccessFails() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, Self.oneEach, executors: [KeyedGates().executor]) { engine in
            let released = try await engine.submitGroup(
                "g-on-done", primer: "p", dependsOn: [GroupDependency("g-missing", timeout: .milliseconds(200))]
            )
            let failed = try await engine.submitGroup(
                "g-required", primer: "p", followers: ["f"],
                dependsOn: [GroupDependency("g-missing", policy: .requireSuccess, timeout: .milliseconds(200))]
            )
            #expect(try await released.primer!.boundedResult().status == .succeeded)
            for job in failed.jobs {
                let result = try await job.boundedResult()
                #expect(result.status == .failed)
                #expect(result.error?.type == "DependencyFailed")
                #expect(result.error.map { $0.message.contains("timeout") } == true, "\(String(describing: result.error))")
            }
            let events = try await engine.allEvents()
            let timeouts = events.ofType(.groupDependencyFailed)
            #expect(timeouts.count == 2)
            for event in timeouts {
                let data = try Self.data(event)
                #expect(data["reason"] == "timeout")
                #expect(data["dependency_id"] == "g-missing")
                #expect(data["timeout_s"]?.doubleValue.map { abs($0 - 0.2) < 1e-9 } == true)
            }
            #expect(events.ofType(.groupUnblocked).map(\.groupID) == [released.groupID])
            for submission in [released, failed] {
                #expect(try await engine.store.dependencies(ofGroup: submission.groupID).map(\.state) == ["timed_out"])
            }
        }
    }

    @Test func cancellingABlockedGroupDropsItsDependenciesAndFailsThoseRequiringIt() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, Self.oneEach, executors: [KeyedGates().executor]) { engine in
            let middle = try await engine.submitGroup("middle", primer: "p", dependsOn: [GroupDependency("never")])
            let last = try await engine.submitGroup("last", primer: "p", dependsOn: [GroupDependency("middle", policy: .requireSuccess)])
            #expect(try await engine.cancelGroup("middle"))
            #expect(try await middle.primer!.boundedResult().status == .cancelled)
            let result = try await last.primer!.boundedResult()
            #expect(result.error?.type == "DependencyFailed")
            #expect(result.error.map { $0.message.contains("cancelled") } == true, "\(String(describing: result.error))")
            #expect(try await engine.store.dependencies(ofGroup: middle.groupID).map(\.state) == ["dropped"])
            #expect(try await engine.store.group(middle.groupID)?.dependenciesWaiting == 0)
        }
    }

    @Test func aFailureRunsDownAChainOfThousandsInOneTransaction() async throws {
        let dir = TemporaryDirectory()
        let length = 2_000
        try await withEngine(dir, Self.oneEach, executors: [KeyedGates().executor]) { engine in
            let specs = (0..<length).map { index in
                GroupSpec(
                    "link-\(index)", primer: index == 0 ? ["fail": true] : "p",
                    dependsOn: index == 0 ? [] : [GroupDependency("link-\(index - 1)", policy: .requireSuccess)]
                )
            }
            let chain = try await engine.submitGroups(specs)
            #expect(try await chain.last!.primer!.boundedResult().error?.type == "DependencyFailed")
            let groups = try await engine.store.allGroups()
            #expect(groups.count == length)
            #expect(groups.allSatisfy { $0.state == .failed && $0.finishedAt != nil })
            #expect(try await engine.allEvents().ofType(.jobStarted).count == 1)
        }
    }

    @Test func aChainRunsEachGroupAfterTheOneBefore() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir, EngineConfiguration(primerWorkers: 4, followerWorkers: 4)) { engine in
            var chain: [GroupSubmission] = []
            for index in 0..<30 {
                chain.append(
                    try await engine.submitGroup(
                        "step-\(index)", primer: "p", followers: ["a", "b"],
                        dependsOn: index == 0 ? [] : [GroupDependency("step-\(index - 1)", policy: .requireSuccess)]
                    )
                )
            }
            for job in chain.flatMap(\.jobs) { #expect(try await job.boundedResult().status == .succeeded) }
            let events = try await engine.allEvents()
            for (before, after) in zip(chain, chain.dropFirst()) {
                let done = try #require(events.ofType(.groupDone).first { $0.groupID == before.groupID })
                #expect(try #require(events.onlySeq(.jobStarted, job: after.primer!.id)) > done.seq)
            }
        }
    }

    /// The dependency event's data as a JSON object.
    static func data(_ event: EventRecord?) throws -> JSONValue {
        try JSONValue(jsonString: try #require(event?.data))
    }
}
