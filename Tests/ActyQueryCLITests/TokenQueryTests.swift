import ActyTestSupport
import Acty
import Testing

/// What `acty-query` shows of LLM work: tokens by lane, group and executor, tokens/s in the summary, rate limits.
@Suite(.timeLimit(.minutes(1)))
struct TokenQueryTests {
    @Test func tokensAreSummedByLaneGroupAndExecutorAndRateLimitsAreListed() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        let chat = ClosureExecutor(name: "chat") { job in
            job.recordUsage(TokenUsage(promptTokens: 100, completionTokens: 10, cachedPromptTokens: job.role == .follower ? 80 : 0))
            return "ok"
        }
        let embed = ClosureExecutor(name: "embed") { job in
            job.recordUsage(TokenUsage(promptTokens: 7))
            return "ok"
        }
        let plain = ClosureExecutor(name: "plain") { _ in "no usage" }
        let configuration = EngineConfiguration(rateLimits: [RateLimit(executor: "chat", requestsPerMinute: 6000, tokensPerMinute: 1_000_000, maxInflight: 4)])
        let engine = try await ActyEngine(database: .file(path), configuration: configuration, executors: [chat, embed, plain])
        do {
            let submissions = try await engine.submitGroups([
                GroupSpec("review", primer: [:], followers: [[:], [:]], lane: "tenant-a", executor: "chat"),
                GroupSpec("index", primer: [:], followers: [[:]], lane: "tenant-b", executor: "embed"),
                GroupSpec("other", primer: [:], executor: "plain"),
            ])
            for job in submissions.flatMap(\.jobs) { _ = try await job.result() }
        } catch {
            try? await engine.shutdown()
            throw error
        }
        try await engine.shutdown()

        let byExecutor = try #require(try await QueryTool.run(["tokens", path, "--by", "executor", "--format", "json"]).json().arrayValue)
        #expect(byExecutor.map { $0["executor"] } == ["chat", "embed"])
        #expect(byExecutor[0]["attempts"] == 3)
        #expect(byExecutor[0]["prompt_tokens"] == 300)
        #expect(byExecutor[0]["completion_tokens"] == 30)
        #expect(byExecutor[0]["cached_prompt_tokens"] == 160)
        #expect(byExecutor[0]["total_tokens"] == 330)
        #expect(byExecutor[1]["total_tokens"] == 14)
        let byLane = try #require(try await QueryTool.run(["tokens", path, "--by", "lane", "--format", "json"]).json().arrayValue)
        #expect(byLane.map { $0["lane"] } == ["tenant-a", "tenant-b"])
        let byGroup = try #require(try await QueryTool.run(["tokens", path, "--by", "group", "--format", "json"]).json().arrayValue)
        #expect(byGroup.map { $0["group"] } == ["review", "index"])

        let summary = try await QueryTool.run(["summary", path, "--format", "json"]).json()
        #expect(summary["overview"]?["tokens_total"] == 344)
        #expect((summary["overview"]?["tokens_per_second"]?.doubleValue ?? 0) > 0)

        let limits = try #require(try await QueryTool.run(["rate-limits", path, "--format", "json"]).json().arrayValue)
        #expect(limits.count == 1)
        #expect(limits.first?["executor"] == "chat")
        #expect(limits.first?["lane"] == "*")
        #expect(limits.first?["max_inflight"] == 4)
        #expect(limits.first?["running"] == 0)
        #expect(limits.first?["slowdown"] == 1)

        let bad = try await QueryTool.run(["tokens", path, "--by", "planet"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("planet"))
    }
}
