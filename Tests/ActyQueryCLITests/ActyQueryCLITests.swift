import Acty
import ActyStore
import ActyTestSupport
import Foundation
import GRDB
import Testing

/// The `acty-query` executable, run as a child process against databases written by a real engine.
@Suite(.timeLimit(.minutes(1)))
struct ActyQueryCLITests {
    @Test func summaryCountsTheEnginesJobsGroupsAndWorkers() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let run = try await QueryTool.run(["summary", database.path, "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try run.json()
        #expect(json["overview"]?["jobs_total"]?.intValue == 5)
        #expect(json["overview"]?["groups_total"]?.intValue == 2)
        #expect(json["overview"]?["schema_version"]?.intValue == Store.schemaVersion)
        #expect(json["overview"]?["workers_alive"]?.intValue == 0)
        #expect(json["overview"]?["workers_gone"]?.intValue == 1)
        #expect((json["overview"]?["throughput_per_second"]?.doubleValue ?? 0) > 0)
        let states = Dictionary(uniqueKeysWithValues: (json["jobs_by_state"]?.arrayValue ?? []).map { ($0["state"]!.stringValue!, $0["count"]!.intValue!) })
        let expected = Dictionary(grouping: database.results.values, by: \.status.rawValue).mapValues(\.count)
        #expect(states == expected)
        let groups = (json["groups_by_state"]?.arrayValue ?? []).map { $0["state"]?.stringValue }
        #expect(Set(groups) == ["succeeded", "failed"])
        let lanes = (json["jobs_by_lane"]?.arrayValue ?? []).map { $0["lane"]?.stringValue }
        #expect(lanes == ["fast", "slow"])

        let table = try await QueryTool.run(["summary", database.path])
        #expect(table.status == 0 && table.stdout.contains("jobs_by_role") && !table.stdout.contains("\u{1B}["))
    }

    @Test func summaryOfARunningEngineShowsItsWorkerAndTheOldestReadyJob() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        let gate = Gate()
        let engine = try await ActyEngine(
            database: .file(path), configuration: EngineConfiguration(primerWorkers: 1, workStealing: false),
            executors: [ClosureExecutor(name: "work") { job in
                while !gate.isOpen { try await Task.sleep(for: .milliseconds(10)) }
                return job.payload
            }]
        )
        let first = try await engine.submitGroup("first", primer: ["n": 1])
        let second = try await engine.submitGroup("second", primer: ["n": 2])
        try await waitFor {
            (try? JSONValue(jsonString: QueryTool.runSync(["jobs", path, "--state", "running", "--format", "json"]).stdout))?.arrayValue?.count == 1
        }
        let summary = try await QueryTool.run(["summary", path, "--format", "json"]).json()
        gate.open()
        _ = try await first.primer?.result()
        _ = try await second.primer?.result()
        try await engine.shutdown()
        #expect(summary["overview"]?["workers_alive"]?.intValue == 1)
        #expect((summary["overview"]?["oldest_ready_age_seconds"]?.doubleValue ?? -1) >= 0)
        let states = (summary["jobs_by_state"]?.arrayValue ?? []).map { $0["state"]?.stringValue }
        #expect(states == ["ready", "running"])
    }

    @Test func summaryListsJobsWaitingForAnExecutorNoLiveEngineHas() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        let engine = try await ActyEngine(database: .file(path), executors: [EchoExecutor()])
        // Queued under an executor name no engine registers any more, as after a rename.
        let store = try Store(.file(path))
        for key in ["old-1", "old-2"] {
            let group = NewGroup(
                key: key, lane: "default", primer: NewJob(executor: "review-v1", payload: "1"),
                followers: [NewJob(executor: "review-v1", payload: "2")], isClosed: true
            )
            _ = try await store.submitGroup(group, worker: nil)
        }
        try await store.close()
        let echoed = try await engine.submitGroup("echoed", primer: "p", followers: ["f"])
        for job in echoed.jobs { _ = try await job.result() }

        let json = try await QueryTool.run(["summary", path, "--format", "json"]).json()
        let table = try await QueryTool.run(["summary", path])
        try await engine.shutdown()
        // The ready primers count; their followers wait for them, not for an executor.
        #expect(json["jobs_missing_executor"]?.arrayValue == [["executor": "review-v1", "jobs": 2]])
        #expect(table.status == 0 && table.stdout.contains("jobs_missing_executor") && table.stdout.contains("review-v1"))
    }

    @Test func groupsListsNewestFirstAndFiltersByState() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let all = try await QueryTool.run(["groups", database.path, "--format", "json"]).json()
        #expect(all.arrayValue?.map { $0["key"]?.stringValue } == ["doomed", "ok"])
        let failed = try await QueryTool.run(["groups", database.path, "--state", "failed", "--format", "jsonl"])
        let lines = failed.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(try JSONValue(jsonString: String(lines[0]))["lane"]?.stringValue == "slow")
        let limited = try await QueryTool.run(["groups", database.path, "--limit", "1", "--format", "json"]).json()
        #expect(limited.arrayValue?.count == 1)
    }

    /// `script` runs the tool on a pseudo-terminal, so stdout is a TTY.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func tablesFitTheTerminalAndTruncateWithAnEllipsis() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        var environment = ProcessInfo.processInfo.environment
        environment["COLUMNS"] = "70"
        environment["NO_COLOR"] = "1"
        let out = folder.file("terminal.out")
        let command = "\(try QueryTool.url().path) jobs '\(database.path)'"
        await (try ChildProcess("/usr/bin/script", ["-qc", command, "/dev/null"], environment: environment, standardOutput: out)).exited()
        let terminal = try String(contentsOfFile: out, encoding: .utf8)
        let lines = terminal.split(whereSeparator: \.isNewline)
        #expect(lines.count == 6, "\(terminal)")
        #expect(lines.allSatisfy { $0.count <= 70 }, "\(terminal)")
        #expect(terminal.contains("…"))
        #expect(lines.first?.hasPrefix("id") == true)
    }

    @Test func pipedTablesKeepEveryColumnWhole() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let run = try await QueryTool.run(["jobs", database.path], environment: ["COLUMNS": "70"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 6)
        #expect(!run.stdout.contains("…"))
        #expect(lines[0].hasPrefix("id") && lines[0].hasSuffix("error"), "\(lines[0])")
        #expect(run.stdout.contains("job \(database.doomed.primer!.id) was asked to fail"), "\(run.stdout)")
    }

    /// `script` runs the tool on a pseudo-terminal, so stdout is a TTY.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func colourOnlyOnATerminalAndNeverWithNoColor() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let tool = try QueryTool.url().path
        let command = "\(tool) lanes '\(database.path)'"
        func onTerminal(_ environment: [String: String]) async throws -> String {
            var merged = ProcessInfo.processInfo.environment
            merged.removeValue(forKey: "NO_COLOR")
            merged["TERM"] = "xterm"
            merged.merge(environment) { $1 }
            let out = folder.file(UUID().uuidString)
            await (try ChildProcess("/usr/bin/script", ["-qc", command, "/dev/null"], environment: merged, standardOutput: out)).exited()
            return try String(contentsOfFile: out, encoding: .utf8)
        }
        let coloured = try await onTerminal([:])
        #expect(coloured.contains("\u{1B}[1m") && coloured.contains("fast"), "\(coloured)")
        let plain = try await onTerminal(["NO_COLOR": "1"])
        #expect(!plain.contains("\u{1B}[") && plain.contains("fast"), "\(plain)")
        let piped = try await QueryTool.run(["lanes", database.path])
        #expect(!piped.stdout.contains("\u{1B}["))
    }

    @Test func groupShowsItsRowAndEveryJob() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let json = try await QueryTool.run(["group", database.path, "ok", "--format", "json"]).json()
        #expect(json["group"]?["state"]?.stringValue == "succeeded")
        #expect(json["group"]?["jobs_total"]?.intValue == 3)
        let jobs = json["jobs"]?.arrayValue ?? []
        #expect(jobs.map { $0["id"]?.intValue.map(Int64.init) } == database.ok.jobs.map { $0.id.rawValue })
        #expect(jobs.allSatisfy { $0["state"]?.stringValue == "succeeded" && $0["attempts"]?.intValue == 1 && $0["finished_at"]?.doubleValue != nil })
        #expect(json["group"]?["cache_key"]?.stringValue == "prefix-1")
        #expect(json["cache_entry"]?["provider_ref"]?.stringValue == "ref-1")

        let doomed = try await QueryTool.run(["group", database.path, "doomed"], environment: ["COLUMNS": "250"])
        #expect(doomed.status == 0 && doomed.stdout.contains("failed") && doomed.stdout.contains("cancelled"), "\(doomed.stdout)")
    }

    @Test func jobsFilterByRoleGroupAndState() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let csv = try await QueryTool.run(["jobs", database.path, "--role", "follower", "--group", "ok", "--format", "csv"])
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("id,group_key,role,follower_index,executor,lane,state") == true)
        #expect(lines.count == 3)
        #expect(lines.dropFirst().allSatisfy { $0.contains(",ok,follower,") })
        let failed = try await QueryTool.run(["jobs", database.path, "--state", "failed", "--executor", "work", "--lane", "slow", "--format", "json"]).json()
        #expect(failed.arrayValue?.map { $0["id"]?.intValue.map(Int64.init) } == [database.doomed.primer?.id.rawValue])
    }

    @Test func jobShowsPayloadResultErrorAndAttempts() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let follower = database.ok.followers[0]
        let json = try await QueryTool.run(["job", database.path, "\(follower.id.rawValue)", "--format", "json"]).json()
        #expect(json["job"]?["payload"] == ["step": "a"])
        #expect(json["job"]?["result"] == database.results[follower.id]?.output)
        #expect(json["attempts"]?.arrayValue?.map { $0["outcome"]?.stringValue } == ["succeeded"])

        let primer = try #require(database.doomed.primer)
        let failed = try await QueryTool.run(["job", database.path, "\(primer.id.rawValue)", "--format", "json"]).json()
        #expect(failed["job"]?["error"]?.isNull == false)
        #expect(failed["attempts"]?[0]?["outcome"]?.stringValue == "failed")
    }

    @Test func attemptsListsFinishedAttemptsOfAJob() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let all = try await QueryTool.run(["attempts", database.path, "--format", "json"]).json()
        #expect(all.arrayValue?.count == 4)
        let one = try await QueryTool.run(["attempts", database.path, "--job", "\(database.ok.followers[1].id.rawValue)", "--format", "jsonl"])
        #expect(one.stdout.split(separator: "\n").count == 1)
        #expect(one.stdout.contains(#""outcome": "succeeded""#))
    }

    @Test func lanesShowSettingsCountsAndShareOfStarts() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let lanes = try await QueryTool.run(["lanes", database.path, "--format", "json"]).json().arrayValue ?? []
        let fast = try #require(lanes.first { $0["name"]?.stringValue == "fast" })
        let slow = try #require(lanes.first { $0["name"]?.stringValue == "slow" })
        #expect(fast["weight"]?.doubleValue == 3 && fast["done"]?.intValue == 3 && fast["paused"]?.intValue == 0)
        #expect(slow["max_inflight"]?.intValue == 2 && slow["failed"]?.intValue == 1)
        #expect(fast["start_share"]?.doubleValue == 0.75 && slow["start_share"]?.doubleValue == 0.25)
    }

    @Test func cacheAndWorkersListTheirRows() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let cache = try await QueryTool.run(["cache", database.path, "--format", "json"])
        #expect(cache.status == 0)
        let entries = try cache.json().arrayValue ?? []
        #expect(entries.map { $0["key"]?.stringValue } == ["prefix-1"])
        #expect(entries.first?["state"]?.stringValue == "ready" && entries.first?["provider"]?.stringValue == "fixed")
        #expect(entries.first?["fingerprint"]?.stringValue == "fp-1")
        let workers = try await QueryTool.run(["workers", database.path, "--format", "json"]).json().arrayValue ?? []
        #expect(workers.count == 1)
        #expect(workers.first?["alive"]?.intValue == 0 && workers.first?["stop_reason"]?.stringValue == "shutdown")
        #expect(workers.first?["pid"]?.intValue == Int(ProcessInfo.processInfo.processIdentifier))
    }

    @Test func eventsFilterByGroupTypeJobAndSeq() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let succeeded = try await QueryTool.run(["events", database.path, "--group", "ok", "--type", "job_succeeded", "--format", "json"]).json()
        #expect(succeeded.arrayValue?.count == 3)
        let primer = try #require(database.ok.primer)
        let mine = try await QueryTool.run(["events", database.path, "--job", "\(primer.id.rawValue)", "--format", "json"]).json().arrayValue ?? []
        #expect(mine.map { $0["type"]?.stringValue } == ["job_queued", "job_started", "job_succeeded"])
        let all = try await QueryTool.run(["events", database.path, "--format", "json"]).json().arrayValue ?? []
        let since = try #require(all[2]["seq"]?.intValue)
        let later = try await QueryTool.run(["events", database.path, "--since", "\(since)", "--limit", "2", "--format", "json"]).json().arrayValue ?? []
        #expect(later.map { $0["seq"]?.intValue } == [all[3]["seq"]?.intValue, all[4]["seq"]?.intValue])
    }

    @Test func exportWritesEveryEventInTheJSONLEnvelope() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let out = folder.file("events.jsonl")
        let run = try await QueryTool.run(["export-jsonl", database.path, out])
        #expect(run.status == 0, "\(run.stderr)")
        let events = try await QueryTool.run(["events", database.path, "--format", "json"]).json().arrayValue ?? []
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map { try JSONValue(jsonString: String($0)) }
        #expect(lines.count == events.count && !lines.isEmpty)
        #expect(lines.map { $0["seq"]?.intValue } == events.map { $0["seq"]?.intValue })
        #expect(lines.allSatisfy { $0["schema_version"]?.intValue == 1 })
        #expect(lines.first { $0["type"]?.stringValue == "job_succeeded" }?["group_id"]?.stringValue == "ok")
    }

    @Test func followPrintsEventsWrittenAfterItStarted() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        let engine = try await ActyEngine(database: .file(path), executors: [failingOnRequest()])
        let first = try await engine.submitGroup("first", primer: ["n": 1])
        _ = try await first.primer?.result()
        let child = try QueryTool.Child(["events", path, "--follow", "--format", "jsonl"], in: folder)
        defer { child.process.send(SIGTERM) }
        try await waitFor { child.stdout.contains(#""group_key": "first""#) }
        let later = try await engine.submitGroup("later", primer: ["n": 2])
        _ = try await later.primer?.result()
        try await waitFor {
            child.stdout.split(separator: "\n").contains { $0.contains(#""type": "job_succeeded""#) && $0.contains(#""group_key": "later""#) }
        }
        #expect(child.process.ended == nil)
        child.process.send(SIGTERM)
        await child.process.exited()
        let seqs = child.stdout.split(separator: "\n").compactMap { try? JSONValue(jsonString: String($0))["seq"]?.intValue }
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
        try await engine.shutdown()
    }

    @Test func sqlRunsReadOnlyQueries() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let json = try await QueryTool.run(["sql", database.path, "SELECT lane, COUNT(*) AS n FROM jobs GROUP BY lane ORDER BY lane", "--format", "json"]).json()
        #expect(json == [["lane": "fast", "n": 3], ["lane": "slow", "n": 2]])
    }

    @Test(arguments: [
        "DELETE FROM jobs", "UPDATE lanes SET paused = 1", "INSERT INTO lanes (name, created_at, updated_at) VALUES ('x', 0, 0)",
        "DROP TABLE events", "VACUUM INTO '/tmp/acty-query-vacuum.db'", "PRAGMA user_version = 7", "BEGIN IMMEDIATE",
        "ATTACH '/tmp/acty-query-attached.db' AS other", "SELECT 1; DELETE FROM jobs",
    ])
    func sqlRefusesWritesAndLeavesTheFileUnchanged(statement: String) async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let before = fileBytes(database.path)
        let run = try await QueryTool.run(["sql", database.path, statement])
        #expect(run.status != 0)
        #expect(run.stderr.hasPrefix("error: refused") || run.stderr.contains("more than one statement"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
        #expect(fileBytes(database.path) == before)
    }

    @Test func badInputsPrintOneLineAndExitNonZeroWithoutChangingTheFile() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let notSQLite = try notADatabase(in: folder)
        let newer = folder.file("newer.db")
        try FileManager.default.copyItem(atPath: database.path, toPath: newer)
        if FileManager.default.fileExists(atPath: database.path + "-wal") {
            try FileManager.default.copyItem(atPath: database.path + "-wal", toPath: newer + "-wal")
        }
        let queue = try DatabaseQueue(path: newer)
        try await queue.write { try $0.execute(sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)") }
        try queue.close()
        let files = [database.path, notSQLite, newer]
        let before = files.map(fileBytes)

        // Runtime errors print exactly one line; usage errors are argument-parser's message with the usage.
        let cases: [([String], String, Bool)] = [
            (["summary", folder.file("missing.db")], "no database file", true),
            (["jobs", notSQLite], "not a SQLite database", true),
            (["groups", newer], "schema version 99", true),
            (["group", database.path, "nope"], "no group with key \"nope\"", true),
            (["job", database.path, "4242"], "no job with id 4242", true),
            (["sql", database.path, "SELEKT 1"], "not valid", true),
            (["groups", database.path, "--limit", "0"], "--limit", false),
            (["jobs", database.path, "--limit", "-5"], "--limit must be a positive number", false),
            (["events", database.path, "--since", "-1"], "--since must be a seq of 0 or more", false),
            (["jobs", database.path, "--state", "sleeping"], "sleeping", false),
            (["job", database.path, "seventeen"], "seventeen", false),
            (["export-jsonl", database.path, database.path], "must not be the database", false),
        ]
        for (arguments, message, oneLine) in cases {
            let run = try await QueryTool.run(arguments)
            #expect(run.status != 0, "\(arguments)")
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            #expect(run.stderr.hasPrefix("error: ") || run.stderr.hasPrefix("Error: "), "\(arguments): \(run.stderr)")
            #expect(!run.stderr.contains("Fatal error") && !run.stderr.contains("Stack"), "\(arguments)")
            if oneLine {
                #expect(run.stderr.split(separator: "\n").count == 1, "\(arguments): \(run.stderr)")
            }
        }
        #expect(files.map(fileBytes) == before)
    }

    @Test(arguments: [
        "summary", "groups", "group", "dependencies", "jobs", "job", "attempts", "lanes", "cache", "workers", "events", "export-jsonl",
        "sql", "backup",
    ])
    func everySubcommandHasHelpWithAnExample(subcommand: String) async throws {
        let run = try await QueryTool.run([subcommand, "--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("Example:\n  acty-query \(subcommand) "), "\(run.stdout)")
    }
}

/// A flag a test opens to let its executor finish.
final class Gate: Sendable {
    private let state = Locked(false)
    var isOpen: Bool { state.withLock { $0 } }
    func open() { state.withLock { $0 = true } }
}

/// Waits until `condition` holds, for at most 10 seconds.
func waitFor(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        struct TimedOut: Error {}
        if ContinuousClock.now > deadline { throw TimedOut() }
        try await Task.sleep(for: .milliseconds(20))
    }
}
