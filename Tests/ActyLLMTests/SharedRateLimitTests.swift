import ActyLLMTestServer
import ActyOpenAI
import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// A rate limit seen from the provider's side: two engines on one file, each with its own HTTP client, together
/// never send the server more than the budget allows.
@Suite(.timeLimit(.minutes(1)))
struct SharedRateLimitTests {
    @Test func twoEnginesOnOneFileStayWithinTheBudgetAtTheServer() async throws {
        try await withServer { server in
            let dir = TemporaryDirectory()
            let limits = [RateLimit(executor: "openai", requestsPerMinute: 1200, burst: 2)]  // 20 a second
            let first = try OpenAIExecutor(OpenAIConfiguration(baseURL: server.baseURL, model: "m", apiKey: .none))
            let second = try OpenAIExecutor(OpenAIConfiguration(baseURL: server.baseURL, model: "m", apiKey: .none))
            let other = try await ActyEngine(
                database: .file(dir.file()), configuration: EngineConfiguration(rateLimits: limits), executors: [second]
            )
            do {
                try await withLLMEngine(dir, EngineConfiguration(rateLimits: limits), executors: [first], afterShutdown: first.shutdown) { engine in
                    let submissions = try await engine.submitGroups(
                        (0..<30).map { GroupSpec("call-\($0)", primer: ["prompt": .string("call \($0)")], executor: "openai") }
                    )
                    for submission in submissions { #expect(try await #require(submission.primer).result().status == .succeeded) }
                    let workers = try await events(of: engine).filter { $0.type == EventType.jobStarted.rawValue }.compactMap(\.worker)
                    #expect(Set(workers).count == 2, "both engines called the provider")
                }
            } catch {
                try? await other.shutdown()
                try? await second.shutdown()
                throw error
            }
            try await other.shutdown()
            try await second.shutdown()

            // Each request reaches the server a little after its claim: 0.5 s of slack for that, far less than the
            // 30 requests at once an unlimited run sends.
            let arrivals = server.chatRequests.map(\.receivedAt).sorted()
            #expect(arrivals.count == 30)
            var worst = 0.0
            for i in arrivals.indices {
                for j in arrivals.indices where j > i {
                    worst = max(worst, Double(j - i + 1) - (2 + 20 * (arrivals[j] - arrivals[i] + 0.5)))
                }
            }
            #expect(worst <= 0, "a window held \(worst) requests more than the budget: \(arrivals.map { $0 - arrivals[0] })")
            #expect(arrivals.last! - arrivals.first! >= 1.0, "28 requests past the burst at 20 a second")
        }
    }
}
