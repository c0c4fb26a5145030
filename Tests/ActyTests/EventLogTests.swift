import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// The `events` table and the JSONL export: one event per transition, in the transaction of the change.
@Suite(.timeLimit(.minutes(1)))
struct EventLogTests {
    @Test func everyJobIsQueuedStartedAndFinishedOnceInOrder() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, executors: [failingOnRequest()])
        let ok = try await engine.submitGroup("ok", primer: "p", followers: ["a", "b", "c"])
        let fanOut = try await engine.submitGroup("fan-out", primer: nil, followers: ["x", ["fail": true]])
        let doomed = try await engine.submitGroup("doomed", primer: ["fail": true], followers: ["never"])
        var results: [JobID: JobResult] = [:]
        for job in ok.jobs + fanOut.jobs + doomed.jobs { results[job.id] = try await job.boundedResult() }

        let events = try await engine.allEvents()
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.seq < $1.seq })
        for (id, result) in results {
            let mine = events.forJob(id)
            let queued = try #require(events.onlySeq(.jobQueued, job: id))
            switch result.status {
            case .succeeded, .failed:
                let type: EventType = result.status == .succeeded ? .jobSucceeded : .jobFailed
                let started = try #require(events.onlySeq(.jobStarted, job: id))
                let finished = try #require(events.onlySeq(type, job: id))
                #expect(queued < started && started < finished)
                #expect(mine.count == 3, "job \(id): \(mine.map(\.type))")
            case .cancelled:
                let cancelled = try #require(events.onlySeq(.jobCancelled, job: id))
                #expect(queued < cancelled)
                #expect(mine.map(\.type) == ["job_queued", "job_cancelled"])
            }
            #expect(mine.allSatisfy { $0.groupKey == result.groupKey && $0.role == result.role })
        }
        #expect(results[doomed.followers[0].id]?.status == .cancelled)
        #expect(results[fanOut.followers[1].id]?.status == .failed)
        try await engine.boundedShutdown()
    }

    @Test func groupsRecordActivationReleaseAndDoneInOrder() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        let submission = try await engine.submitGroup("ordered", primer: "p", followers: ["a", "b"], lane: "docs")
        for job in submission.jobs { _ = try await job.boundedResult() }

        let events = try await engine.allEvents().filter { $0.groupID == submission.groupID }
        let groupEvents = events.filter { $0.jobID == nil }
        #expect(groupEvents.map(\.type) == ["group_activated", "followers_ready", "group_done"])
        #expect(groupEvents.allSatisfy { $0.groupKey == "ordered" && $0.lane == "docs" })
        let released = try #require(groupEvents.first { $0.type == "followers_ready" })
        #expect(released.data == #"{"followers":2,"primer":true}"#)
        let primerSucceeded = try #require(events.onlySeq(.jobSucceeded, job: submission.primer!.id))
        #expect(released.seq > primerSucceeded)
        let done = try JSONValue(jsonString: try #require(groupEvents.last?.data))
        #expect(done == [
            "ok": true, "state": "succeeded", "primer": "succeeded", "followers_total": 2, "followers_succeeded": 2,
            "followers_failed": 0, "followers_cancelled": 0,
        ])
        let lastJobEvent = try #require(events.filter { $0.jobID != nil }.last?.seq)
        #expect(groupEvents.last!.seq > lastJobEvent)
        try await engine.boundedShutdown()
    }

    @Test func engineRecordsItsStartAndItsShutdown() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(primerWorkers: 3, followerWorkers: 5))
        let submission = try await engine.submitGroup("one", primer: "p")
        _ = try await submission.primer!.boundedResult()
        try await engine.boundedShutdown()

        let store = try Store(.file(dir.file()))
        let events = try await store.events()
        let ownEvents = events.filter { $0.worker == engine.workerID }
        #expect(ownEvents.count == events.count)
        #expect(events.prefix(2).map(\.type) == ["worker_started", "run_started"])
        #expect(events.suffix(2).map(\.type) == ["run_finished", "worker_stopped"])
        let started = try JSONValue(jsonString: try #require(events.first?.data))
        #expect(started["primer_workers"] == 3)
        #expect(started["follower_workers"] == 5)
        #expect(started["executors"] == ["echo"])
        let stoppedAt = try await store.database.read { db in
            try Double.fetchOne(db, sql: "SELECT stopped_at FROM workers WHERE id = ?", arguments: [engine.workerID])
        }
        #expect(stoppedAt != nil)
        try await store.close()
    }

    @Test func eventDataIsAlwaysAJSONObject() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(
            dir, EngineConfiguration(lanes: ["x": LaneConfiguration(weight: 2)]), executors: [failingOnRequest()]
        )
        let submissions = [
            try await engine.submitGroup("ok", primer: "p", followers: ["a"], lane: "x"),
            try await engine.submitGroup("bad", primer: ["fail": true], followers: ["a"]),
        ]
        for job in submissions.flatMap(\.jobs) { _ = try await job.boundedResult() }
        try await engine.setLane("x", LaneConfiguration(weight: 4))
        try await engine.boundedShutdown()

        let store = try Store(.file(dir.file()))
        let events = try await store.events()
        try await store.close()
        let types = Set(events.map(\.type))
        for type in ["job_started", "job_failed", "primer_failed", "group_failed", "job_cancelled", "lane_configs_updated"] {
            #expect(types.contains(type), "no \(type) event")
        }
        for event in events {
            guard let data = event.data else { continue }
            let value = try JSONValue(jsonString: data)
            #expect(value.objectValue != nil, "\(event.type) data is not an object: \(data)")
        }
    }

    @Test func eventLogNeverDisagreesWithTheJobsTable() async throws {
        let dir = TemporaryDirectory()
        let executor = ClosureExecutor(name: "brief") { job in
            try await Task.sleep(for: .milliseconds(1))
            return job.payload
        }
        let engine = try await makeEngine(dir, EngineConfiguration(followerWorkers: 4), executors: [executor])
        var handles: [JobHandle] = []
        for index in 0..<6 {
            handles += try await engine.submitGroup("g\(index)", primer: "p", followers: Array(repeating: "f", count: 10)).jobs
        }
        // Snapshots taken while the engine works: in each, a job's state matches the last event it has.
        var snapshots = 0
        while snapshots < 30 {
            let mismatches = try await engine.store.database.read { db in
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT jobs.id || ':' || jobs.state || ':' || COALESCE(last.type, 'none') FROM jobs
                        LEFT JOIN (SELECT job_id, type FROM events WHERE seq IN (SELECT MAX(seq) FROM events WHERE job_id IS NOT NULL GROUP BY job_id)) AS last
                            ON last.job_id = jobs.id
                        WHERE NOT ((jobs.state IN ('blocked', 'ready') AND last.type = 'job_queued')
                            OR (jobs.state = 'running' AND last.type = 'job_started')
                            OR (jobs.state = 'succeeded' AND last.type = 'job_succeeded'))
                        """
                )
            }
            #expect(mismatches.isEmpty, "\(mismatches)")
            snapshots += 1
            if try await engine.store.allJobs().allSatisfy({ $0.state.isTerminal }) { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        for job in handles { #expect(try await job.boundedResult().status == .succeeded) }
        try await engine.boundedShutdown()
    }

    @Test func jsonlSinkWritesEveryEventInActysEnvelope() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("logs/events.jsonl")
        let sink = try JSONLEventSink(path: path)
        let engine = try await makeEngine(dir, EngineConfiguration(eventSinks: [sink]), executors: [failingOnRequest()])
        let ok = try await engine.submitGroup("ok", primer: "p", followers: ["a", "b"], lane: "docs")
        let bad = try await engine.submitGroup("bad", primer: ["fail": true], followers: ["c"])
        for job in ok.jobs + bad.jobs { _ = try await job.boundedResult() }
        try await engine.boundedShutdown()

        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        let envelope = ["schema_version", "run_id", "seq", "ts", "type", "payload", "job_id", "group_id", "follower_id", "pool", "kind"]
        var parsed: [JSONValue] = []
        for line in lines {
            let value = try JSONValue(jsonString: line)
            #expect(topLevelKeys(ofJSONObject: line) == envelope, "keys out of order: \(line)")
            parsed.append(value)
        }
        let seqs = parsed.compactMap { $0["seq"]?.intValue }
        #expect(seqs.count == lines.count)
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $0 < $1 })

        let store = try Store(.file(dir.file()))
        let events = try await store.events()
        try await store.close()
        #expect(seqs == events.map { Int($0.seq) })
        #expect(parsed.compactMap { $0["type"]?.stringValue } == events.map(\.type))
        #expect(parsed.allSatisfy { $0["schema_version"] == 1 && $0["run_id"]?.stringValue == engine.workerID })

        let jobLine = try #require(parsed.first { $0["type"] == "job_started" && $0["job_id"]?.stringValue == String(ok.followers[1].id.rawValue) })
        #expect(jobLine["group_id"] == "ok")
        #expect(jobLine["follower_id"] == "1")
        #expect(jobLine["kind"] == "follower")
        #expect(jobLine["pool"]?.stringValue != nil)
        #expect(jobLine["payload"]?["lane"] == "docs")
        let primerLine = try #require(parsed.first { $0["type"] == "job_succeeded" && $0["job_id"]?.stringValue == String(ok.primer!.id.rawValue) })
        #expect(primerLine["kind"] == "primer")
        #expect(primerLine["follower_id"] == .null)
        let runLine = try #require(parsed.first { $0["type"] == "run_started" })
        #expect(runLine["job_id"] == .null && runLine["group_id"] == .null)
    }

    @Test func jsonlSinkAppendsSoTwoRunsKeepBothRunsEvents() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("events.jsonl")
        var runIDs: [String] = []
        for run in 0..<2 {
            let engine = try await makeEngine(dir, EngineConfiguration(eventSinks: [try JSONLEventSink(path: path)]))
            runIDs.append(engine.workerID)
            do {
                let submission = try await engine.submitGroup("run-\(run)", primer: "p", followers: ["f"])
                for job in submission.jobs { _ = try await job.boundedResult() }
            } catch {
                try? await engine.boundedShutdown()
                throw error
            }
            try await engine.boundedShutdown()
            // The first run dies in the middle of a write: the next one starts on a line of its own.
            if run == 0 { try appendText(#"{"partial":"#, to: path) }
        }
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let parsed = lines.compactMap { try? JSONValue(jsonString: $0) }
        #expect(parsed.count == lines.count - 1, "only the partial line is not JSON")
        let store = try Store(.file(dir.file()))
        let events = try await store.events()
        try await store.close()
        #expect(parsed.compactMap { $0["seq"]?.intValue } == events.map { Int($0.seq) })
        #expect(Set(parsed.compactMap { $0["run_id"]?.stringValue }) == Set(runIDs))
        #expect(parsed.filter { $0["type"] == "job_succeeded" }.count == 4)

        let truncating = try JSONLEventSink(path: path, truncate: true)
        try await truncating.close()
        #expect(try String(contentsOfFile: path, encoding: .utf8).isEmpty)
    }

    private func appendText(_ text: String, to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }
}
