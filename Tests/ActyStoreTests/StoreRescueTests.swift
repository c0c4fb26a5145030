import ActyCore
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// The rescue of jobs whose process died: abandoned attempts have their own bound and leave the retry budget alone.
@Suite(.timeLimit(.minutes(1)))
struct StoreRescueTests {
    /// A closed group of one primer on `crash`, allowed `maxAttempts` attempts and `maxAbandoned` abandoned ones.
    static func submitPrimer(_ store: Store, maxAttempts: Int = 1, maxAbandoned: Int = 3, followers: Int = 0) async throws -> JobID {
        let job = { (payload: String) in NewJob(executor: "echo", payload: payload, maxAttempts: maxAttempts, maxAbandonedAttempts: maxAbandoned) }
        let group = NewGroup(key: "g", lane: "default", primer: job("{}"), followers: (0..<followers).map { job(#"{"f":\#($0)}"#) }, isClosed: true)
        return try await store.submitGroup(group, worker: nil).0.primer!
    }

    /// Claims the primer as `worker`, then lets another worker rescue it as if `worker`'s process had died.
    static func claimAndAbandon(_ store: Store, worker: String) async throws -> (ClaimedJob, WriteEffects) {
        let claimed = try #require(try await StoreStateRuleTests.claim(store, primers: 1, worker: worker).first)
        let (rescued, effects) = try await store.rescue(silentSince: 0, deadWorkers: [worker], worker: "rescuer")
        #expect(rescued == 1)
        return (claimed, effects)
    }

    static func jobRow(_ store: Store, _ id: JobID) async throws -> JobRecord {
        try #require(try await store.job(id))
    }

    @Test func anAbandonedAttemptRequeuesTheJobWithoutUsingItsRetryBudget() async throws {
        try await withStore { store, _ in
            let id = try await Self.submitPrimer(store, maxAttempts: 1)
            let (first, effects) = try await Self.claimAndAbandon(store, worker: "w1")
            #expect(first.attempt == 1)
            #expect(effects.finishedJobs.isEmpty)
            #expect(effects.readyWork == [WorkKind(role: .primer, lane: "default")])
            var row = try await Self.jobRow(store, id)
            #expect(row.state == .ready, "maxAttempts 1, and yet the job runs again: its attempt was abandoned, not failed")
            #expect(row.attempts == 1)
            #expect(row.abandonedAttempts == 1)
            #expect(row.maxAbandonedAttempts == 3)
            #expect(try await store.attempts(of: id).map(\.outcome) == ["abandoned"])

            // The next claim is attempt 2, but the first of the retry budget: a failure of it is final.
            let second = try #require(try await StoreStateRuleTests.claim(store, primers: 1, worker: "w2").first)
            #expect(second.attempt == 2)
            #expect(second.abandonedAttempts == 1)
            #expect(second.countedAttempt == 1)
            #expect(!second.hasAttemptsLeft)
            try await StoreStateRuleTests.complete(store, [second], worker: "w2")
            row = try await Self.jobRow(store, id)
            #expect(row.state == .succeeded)
            #expect(row.attempts == 2)
            #expect(row.error == nil, "the abandoned attempt's error stays in its attempt row, not on the succeeded job")
            #expect(try await store.attempts(of: id).map(\.outcome) == ["abandoned", "succeeded"])
        }
    }

    @Test func aJobWithRetriesLeftKeepsThemAllAfterBeingAbandoned() async throws {
        try await withStore { store, _ in
            _ = try await Self.submitPrimer(store, maxAttempts: 2)
            _ = try await Self.claimAndAbandon(store, worker: "w1")
            _ = try await Self.claimAndAbandon(store, worker: "w2")
            let third = try #require(try await StoreStateRuleTests.claim(store, primers: 1, worker: "w3").first)
            #expect(third.attempt == 3)
            #expect(third.countedAttempt == 1)
            #expect(third.hasAttemptsLeft, "two abandoned attempts used none of the two attempts allowed")
        }
    }

    @Test func aJobAbandonedMaxAbandonedTimesFailsWithAnErrorThatSaysSo() async throws {
        try await withStore { store, _ in
            let id = try await Self.submitPrimer(store, maxAttempts: 5, maxAbandoned: 3, followers: 2)
            _ = try await Self.claimAndAbandon(store, worker: "w1")
            _ = try await Self.claimAndAbandon(store, worker: "w2")
            let (_, effects) = try await Self.claimAndAbandon(store, worker: "w3")

            let row = try await Self.jobRow(store, id)
            #expect(row.state == .failed)
            #expect(row.attempts == 3)
            #expect(row.abandonedAttempts == 3)
            let error = JobError(stored: try #require(row.error))
            #expect(error.type == "abandoned")
            #expect(error.message.contains("abandoned 3 times"))
            #expect(error.message.contains("maxAbandonedAttempts"))
            #expect(error.message.contains("crashing its process"))
            #expect(error.message.contains("w3"))
            #expect(effects.finishedJobs.first { $0.id == id }?.error == error)
            #expect(try await store.attempts(of: id).map(\.outcome) == ["abandoned", "abandoned", "abandoned"])

            // The group's failure policy (fail the group) applies: the followers never run.
            let group = try #require(try await store.group(key: "g"))
            #expect(group.state == .failed)
            let followers = try await store.jobs(inGroup: group.id).filter { $0.role == .follower }
            #expect(followers.map(\.state) == [.cancelled, .cancelled])
            #expect(try await StoreStateRuleTests.eventTypes(store).contains("job_failed"))
        }
    }

    @Test func aManualRetryOfAJobAbandonedTooOftenRunsItOnceMore() async throws {
        try await withStore { store, _ in
            let id = try await Self.submitPrimer(store, maxAttempts: 1, maxAbandoned: 1)
            _ = try await Self.claimAndAbandon(store, worker: "w1")
            #expect(try await Self.jobRow(store, id).state == .failed, "maxAbandonedAttempts 1: the first abandonment fails the job")

            _ = try await store.retryJob(id, worker: nil)
            var row = try await Self.jobRow(store, id)
            #expect(row.state == .ready)
            #expect(row.maxAttempts == 1, "no attempt of the retry budget was used")
            #expect(row.maxAbandonedAttempts == 2)
            let again = try #require(try await StoreStateRuleTests.claim(store, primers: 1, worker: "w2").first)
            #expect(again.attempt == 2)
            #expect(!again.hasAttemptsLeft)
            // Abandoned once more: the retried run was its one more attempt.
            _ = try await store.rescue(silentSince: 0, deadWorkers: ["w2"], worker: "rescuer")
            row = try await Self.jobRow(store, id)
            #expect(row.state == .failed)
            #expect(row.abandonedAttempts == 2)
        }
    }

    @Test func migrationCountsTheAbandonedAttemptsOfExistingJobs() async throws {
        try await withStore { store, _ in
            let id = try await Self.submitPrimer(store, maxAttempts: 3)
            _ = try await Self.claimAndAbandon(store, worker: "w1")
            // As a version 2 file had it: the abandoned attempt's row, and no counter.
            try await store.database.write { db in
                try db.execute(sql: "UPDATE jobs SET abandoned = 0")
                let migration = try #require(Migration.all.first { $0.version == 3 })
                let backfill = try #require(migration.sql.range(of: "UPDATE jobs SET abandoned"))
                try db.execute(sql: String(migration.sql[backfill.lowerBound...]))
            }
            #expect(try await Self.jobRow(store, id).abandonedAttempts == 1)
        }
    }
}
