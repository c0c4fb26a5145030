import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// Producer leases: an open group fed by several producers closes when the last lease ends, also when its holder
/// stops or dies.
@Suite(.timeLimit(.minutes(1)))
struct ProducerLeaseTests {
    @Test func theLastReleaseClosesTheGroupAndItFinishes() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let group = try await engine.openGroup("fed")
            let first = try await group.producerLease()
            let second = try await group.producerLease()
            let primer = try await group.submit("p")
            let follower = try await group.submit("f")
            #expect(try await follower.boundedResult().status == .succeeded)
            // acty-query's group view lists the leases.
            let shown = try ReadOnlyStore(path: dir.file()).group(key: "fed").first { $0.0 == "producer_leases" }?.1
            #expect(shown?.rows.count == 2)
            #expect(shown?.value("worker") == .string(engine.workerID))
            #expect(try await first.release())
            #expect(try await engine.store.group(key: "fed")?.state == .open, "another lease still holds it")
            _ = try await group.addFollower("late")
            #expect(try await second.release())
            #expect(try await engine.waitForGroup("fed", state: .succeeded))
            #expect(try await primer.boundedResult().status == .succeeded)
            #expect(try await engine.store.jobs(inGroup: group.id).count == 3)
            #expect(try await second.release() == false, "releasing twice does nothing")
        }
    }

    @Test func closingWhileLeasesAreHeldIsSafe() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let group = try await engine.openGroup("closed-early")
            let lease = try await group.producerLease()
            _ = try await group.submit("p")
            try await group.close()
            #expect(try await engine.waitForGroup("closed-early", state: .succeeded))
            #expect(try await lease.release())
            #expect(try await engine.store.group(key: "closed-early")?.state == .succeeded)
            await expectError(.groupClosed) { try await group.producerLease() }
        }
    }

    @Test func withProducerLeaseReleasesAlsoWhenTheBodyThrows() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let group = try await engine.openGroup("thrown")
            await #expect(throws: PlannedFailure.self) {
                try await group.withProducerLease {
                    _ = try await group.submit("p")
                    throw PlannedFailure()
                }
            }
            #expect(try await engine.waitForGroup("thrown", state: .succeeded))
        }
    }

    @Test func anEngineThatStopsEndsItsLeases() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { producer in
            let group = try await producer.openGroup("left-behind")
            _ = try await group.producerLease()
            _ = try await group.submit("p")
        }
        let finished = try await withEngine(dir) { engine in try await engine.waitForGroup("left-behind", state: .succeeded) }
        #expect(finished)
    }

    @Test func aKilledProducersLeaseEndsWhenAnotherEngineFindsItDead() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let group = try await engine.openGroup("shared")
            let mine = try await group.producerLease()
            _ = try await group.submit("p")
            let producer = try TestWorkerProcess(["produce", "--database", dir.file(), "--group", "shared"], in: dir, name: "produce")
            try await require("the producer to hold its lease", timeout: .seconds(30)) { producer.stdout.contains("leased") }
            producer.kill()
            try await producer.waitForExit(timeout: .seconds(10))
            #expect(try await mine.release())
            // The killed process's lease still holds the group until this engine finds the process gone.
            #expect(try await engine.waitForGroup("shared", state: .succeeded, timeout: .seconds(30)))
            #expect(try await engine.store.jobs(inGroup: group.id).count == 2, "the primer and the killed producer's follower")
        }
    }
}
