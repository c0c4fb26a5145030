import ActyTestSupport
import Acty
import Testing

/// What `acty-query` shows of result handlers: resubmitted attempts with their reason and payload, and jobs that
/// wait for a handler no live engine has.
@Suite(.timeLimit(.minutes(1)))
struct ResultHandlerQueryTests {
    struct RepairOnce: ResultHandler {
        func handle(output: JSONValue, of job: Job) async throws -> ResultAction {
            job.resubmits == 0 ? .resubmit(["ask": "again"], reason: "the answer was not JSON") : .accept
        }
    }

    @Test func jobShowsResubmittedAttemptsWithReasonAndPayload() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        let engine = try await ActyEngine(database: .file(path), configuration: EngineConfiguration(resultHandler: RepairOnce()), executors: [EchoExecutor()])
        let result: JobResult
        let id: JobID
        do {
            let primer = try await engine.submitGroup("g", primer: ["ask": "first"]).primer!
            id = primer.id
            result = try await primer.result()
        } catch {
            try? await engine.shutdown()
            throw error
        }
        try await engine.shutdown()
        #expect(result.output == ["ask": "again"])

        let json = try await QueryTool.run(["job", path, "\(id.rawValue)", "--format", "json"]).json()
        #expect(json["job"]?["result_handler"] == "RepairOnce")
        #expect(json["job"]?["resubmits"] == 1)
        #expect(json["job"]?["payload"] == ["ask": "again"])
        #expect(json["job"]?["original_payload"] == ["ask": "first"])
        let attempts = try #require(json["attempts"]?.arrayValue)
        #expect(attempts.map { $0["outcome"] } == ["resubmitted", "succeeded"])
        #expect(attempts.first?["reason"] == "the answer was not JSON")
        #expect(attempts.first?["payload"] == ["ask": "again"])
        let table = try await QueryTool.run(["attempts", path, "--job", "\(id.rawValue)"])
        #expect(table.status == 0 && table.stdout.contains("the answer was not JSON"))
    }

    @Test func summaryListsJobsWaitingForAResultHandlerNoLiveEngineHas() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        // The submitting engine never runs, and stops: no live engine has the group's handler.
        let submitter = try await ActyEngine(
            database: .file(path), configuration: EngineConfiguration(resultHandler: RepairOnce()), executors: [EchoExecutor()],
            runsInBackground: false
        )
        _ = try await submitter.submitGroup("waits", primer: "p", followers: ["f"])
        try await submitter.shutdown()
        let engine = try await ActyEngine(database: .file(path), executors: [EchoExecutor()])
        let json: JSONValue
        do {
            json = try await QueryTool.run(["summary", path, "--format", "json"]).json()
        } catch {
            try? await engine.shutdown()
            throw error
        }
        try await engine.shutdown()
        // The ready primer counts; its follower waits for it.
        #expect(json["jobs_missing_result_handler"]?.arrayValue == [["result_handler": "RepairOnce", "jobs": 1]])
        #expect(json["jobs_missing_executor"]?.arrayValue == [])
    }
}
