import ActyLLMTestServer
@testable import ActyOpenAI
import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// OpenAIExecutor through a real engine against the local test server.
@Suite(.timeLimit(.minutes(1)))
struct OpenAIExecutorTests {
    static let key = "sk-test-0123456789abcdefSECRET"

    static func executor(_ server: LLMTestServer, key: String = key, stream: Bool = false, includePrimerAnswer: Bool = false) throws -> OpenAIExecutor {
        try OpenAIExecutor(
            OpenAIConfiguration(
                baseURL: server.baseURL, model: "test-model", apiKey: .literal(key), requestTimeout: .seconds(10), stream: stream,
                includePrimerAnswer: includePrimerAnswer
            )
        )
    }

    @Test func answerAndUsageAreRecordedOnTheAttemptAndItsEvent() async throws {
        try await withServer(.init(auth: .apiKey(Self.key))) { server in
            let dir = TemporaryDirectory()
            let llm = try Self.executor(server)
            try await withLLMEngine(dir, executors: [llm], afterShutdown: llm.shutdown) { engine in
                let primer: JSONValue = ["messages": [["role": "system", "content": "Be brief."], ["role": "user", "content": "Hello there"]], "temperature": 0.5]
                let handle = try #require(try await engine.submitGroup("g", primer: primer, executor: "openai").primer)
                let result = try await handle.result()
                #expect(result.status == .succeeded, "\(String(describing: result.error))")
                let output = try #require(result.output)
                #expect(output["content"] == "echo: Hello there")
                #expect(output["role"] == "assistant")
                #expect(output["finish_reason"] == "stop")
                #expect(output["model"] == "test-model")
                #expect(output["id"]?.stringValue?.hasPrefix("chatcmpl-") == true)
                #expect(output["usage"]?["prompt_tokens"] == 4)

                let expected = TokenUsage(promptTokens: 4, completionTokens: 3)
                #expect(try await engine.store.attempts(of: handle.id).map(\.usage) == [expected])
                let succeeded = try data(#require(try await events(of: engine).first { $0.type == EventType.jobSucceeded.rawValue }))
                #expect(succeeded["usage"]?["prompt_tokens"] == 4)
                #expect(succeeded["usage"]?["completion_tokens"] == 3)

                let request = try #require(server.chatRequests.first?.json)
                #expect(request["model"] == "test-model")
                #expect(request["temperature"] == 0.5)
                #expect(request["stream"] == false)
                #expect(request["prompt_cache_key"] == "g")
            }
        }
    }

    @Test func aStreamIsAssembledWithItsUsage() async throws {
        try await withServer { server in
            let dir = TemporaryDirectory()
            let llm = try Self.executor(server, stream: true)
            try await withLLMEngine(dir, executors: [llm], afterShutdown: llm.shutdown) { engine in
                let handle = try #require(try await engine.submitGroup("g", primer: ["prompt": "tell me a long story please"], executor: "openai").primer)
                let result = try await handle.result()
                #expect(result.status == .succeeded, "\(String(describing: result.error))")
                #expect(result.output?["content"] == "echo: tell me a long story please")
                #expect(result.output?["finish_reason"] == "stop")
                #expect(try await engine.store.attempts(of: handle.id).map(\.usage) == [TokenUsage(promptTokens: 6, completionTokens: 7)])
                let request = try #require(server.chatRequests.first?.json)
                #expect(request["stream"] == true)
                #expect(request["stream_options"]?["include_usage"] == true)
            }
        }
    }

    @Test func toolCallsComeOutTheSameStreamedOrNot() async throws {
        try await withServer { server in
            server.script(.init(matching: "weather", .toolCall(name: "get_weather", arguments: #"{"city": "Oslo", "unit": "C"}"#)))
            let dir = TemporaryDirectory()
            let llm = try Self.executor(server)
            try await withLLMEngine(dir, executors: [llm], afterShutdown: llm.shutdown) { engine in
                var outputs: [JSONValue] = []
                for stream in [false, true] {
                    let payload: JSONValue = ["prompt": "what is the weather in Oslo", "stream": .bool(stream), "tools": [["type": "function"]]]
                    let handle = try #require(try await engine.submitGroup("g-\(stream)", primer: payload, executor: "openai").primer)
                    outputs.append(try #require(try await handle.result().output))
                }
                for output in outputs {
                    #expect(output["finish_reason"] == "tool_calls")
                    let call = try #require(output["tool_calls"]?[0])
                    #expect(call["function"]?["name"] == "get_weather")
                    #expect(call["function"]?["arguments"] == #"{"city": "Oslo", "unit": "C"}"#)
                    #expect(call["id"]?.stringValue?.hasPrefix("call_") == true)
                }
                #expect(server.chatRequests.first?.json?["tools"] == [["type": "function"]])
            }
        }
    }

    @Test func aBrokenOrIncompleteStreamIsRetriedNeverASuccessWithPartialText() async throws {
        try await withServer { server in
            server.script(.init(matching: "cut me", .brokenStream(afterChunks: 1), times: 1))
            server.script(.init(matching: "stop early", .incompleteStream, times: 1))
            server.script(.init(matching: "half body", .brokenStream(afterChunks: 0), times: 1))
            let dir = TemporaryDirectory()
            let llm = try Self.executor(server, stream: true)
            try await withLLMEngine(dir, EngineConfiguration(retryPolicy: quickRetries(2)), executors: [llm], afterShutdown: llm.shutdown) { engine in
                for (key, prompt, stream) in [("cut", "cut me please", true), ("early", "stop early now", true), ("half", "half body please", false)] {
                    let handle = try #require(try await engine.submitGroup(key, primer: ["prompt": .string(prompt), "stream": .bool(stream)], executor: "openai").primer)
                    let result = try await handle.result()
                    #expect(result.status == .succeeded)
                    #expect(result.attempts == 2)
                    #expect(result.output?["content"] == .string("echo: \(prompt)"))
                    let attempts = try await engine.store.attempts(of: handle.id)
                    #expect(attempts.map(\.outcome) == ["failed", "succeeded"])
                    let firstError = attempts.first?.error ?? ""
                    #expect(firstError.contains(stream ? "stream broke off" : "openai"), "\(firstError)")
                }
            }
        }
    }

    @Test func retryAfterOn429SetsTheRetrysDueTime() async throws {
        try await withServer { server in
            server.script(.init(.status(429, headers: ["Retry-After": "1"], body: #"{"error": {"message": "Rate limit reached for requests"}}"#), times: 1))
            let dir = TemporaryDirectory()
            let llm = try Self.executor(server)
            // The policy's own backoff is 5 ms: only the Retry-After can make the retry wait a second.
            try await withLLMEngine(dir, EngineConfiguration(retryPolicy: quickRetries(3)), executors: [llm], afterShutdown: llm.shutdown) { engine in
                let handle = try #require(try await engine.submitGroup("g", primer: ["prompt": "hi"], executor: "openai").primer)
                #expect(try await waitUntil { try await engine.store.attempts(of: handle.id).first?.outcome == "failed" })
                let failedAt = try #require(try await engine.store.attempts(of: handle.id).first?.finishedAt)
                // While the job waits for its retry (unless a stalled test reads it only after the retry began), its
                // due time is the Retry-After's.
                if let job = try await engine.store.job(handle.id), job.state == .scheduled {
                    #expect(try #require(job.runAt) >= failedAt + 0.99)
                }

                let result = try await handle.result()
                #expect(result.status == .succeeded)
                #expect(result.attempts == 2)
                let attempts = try await engine.store.attempts(of: handle.id)
                #expect(attempts[1].startedAt >= attempts[0].finishedAt! + 0.99)
                let times = server.chatRequests.map(\.receivedAt)
                #expect(times.count == 2)
                #expect(times[1] - times[0] >= 1.0, "the retry came \(times[1] - times[0]) s after the 429")
                let retrying = try data(#require(try await events(of: engine).first { $0.type == EventType.jobRetrying.rawValue }))
                #expect(retrying["delay"]?.doubleValue.map { abs($0 - 1.0) < 0.01 } == true, "\(retrying)")
                #expect(retrying["error"]?["message"]?.stringValue?.contains("Rate limit reached") == true)
            }
        }
    }

    @Test func a429WithoutRetryAfterTellsTheEnginesRateLimiter() async throws {
        try await withServer { server in
            server.script(.init(.status(429, body: #"{"error": {"message": "Too many requests"}}"#), times: 1))
            let dir = TemporaryDirectory()
            let llm = try OpenAIExecutor(
                OpenAIConfiguration(baseURL: server.baseURL, model: "m", apiKey: .none, rateLimitRetryDelay: .milliseconds(200))
            )
            let configuration = EngineConfiguration(
                retryPolicy: quickRetries(3), rateLimits: [RateLimit(executor: "openai", requestsPerMinute: 6000, maxInflight: 8)]
            )
            try await withLLMEngine(dir, configuration, executors: [llm], afterShutdown: llm.shutdown) { engine in
                let handle = try #require(try await engine.submitGroup("g", primer: ["prompt": "hi"], executor: "openai").primer)
                let result = try await handle.result()
                #expect(result.status == .succeeded)
                #expect(result.attempts == 2)
                let all = try await events(of: engine)
                #expect(all.contains { $0.type == EventType.rateLimited.rawValue }, "\(all.map(\.type))")
                let retrying = try data(#require(all.first { $0.type == EventType.jobRetrying.rawValue }))
                #expect(retrying["delay"]?.doubleValue.map { abs($0 - 0.2) < 0.01 } == true, "\(retrying)")
            }
        }
    }

    @Test func a500IsRetriedAndA401FailsAtOnceWithTheProvidersMessage() async throws {
        try await withServer(.init(auth: .apiKey(Self.key))) { server in
            server.script(.init(matching: "flaky", .status(500, body: #"{"error": {"message": "upstream overloaded"}}"#), times: 1))
            let dir = TemporaryDirectory()
            let good = try Self.executor(server)
            let wrongKey = "sk-wrong-9876543210zyxwvuSECRET"
            let bad = try OpenAIExecutor(OpenAIConfiguration(name: "bad", baseURL: server.baseURL, model: "m", apiKey: .literal(wrongKey)))
            try await withLLMEngine(
                dir, EngineConfiguration(retryPolicy: quickRetries(3)), executors: [good, bad],
                afterShutdown: {
                    try await good.shutdown()
                    try await bad.shutdown()
                }
            ) { engine in
                let flaky = try #require(try await engine.submitGroup("flaky", primer: ["prompt": "flaky call"], executor: "openai").primer)
                let flakyResult = try await flaky.result()
                #expect(flakyResult.status == .succeeded)
                #expect(flakyResult.attempts == 2)
                #expect(try await engine.store.attempts(of: flaky.id).first?.error?.contains("upstream overloaded") == true)

                let refused = try #require(try await engine.submitGroup("refused", primer: ["prompt": "hi"], executor: "bad").primer)
                let result = try await refused.result()
                #expect(result.status == .failed)
                #expect(result.attempts == 1)
                let message = result.error?.message ?? ""
                #expect(message.contains("HTTP 401"), "\(message)")
                #expect(message.contains("Incorrect API key provided"), "\(message)")
                #expect(!message.contains(wrongKey), "\(message)")

                // Neither key is anywhere in the events.
                let texts = try await events(of: engine).map { $0.data ?? "" }.joined()
                #expect(!texts.contains(wrongKey) && !texts.contains(Self.key))
            }
            // Nor anywhere in the database file's bytes.
            let bytes = databaseBytes(dir)
            #expect(!bytes.isEmpty)
            #expect(bytes.range(of: Data(wrongKey.utf8)) == nil)
            #expect(bytes.range(of: Data(Self.key.utf8)) == nil)
            #expect(bytes.range(of: Data("Incorrect API key".utf8)) != nil, "the search must find what is there")
        }
    }

    @Test func aSlowAnswerTimesOutRetryably() async throws {
        try await withServer { server in
            // Far longer than the test waits: only a request that was really given up on lets the job finish.
            server.script(.init(.delay(.seconds(60)), times: 1))
            let dir = TemporaryDirectory()
            let llm = try Self.executor(server)
            try await withLLMEngine(dir, EngineConfiguration(retryPolicy: quickRetries(2)), executors: [llm], afterShutdown: llm.shutdown) { engine in
                let handle = try #require(try await engine.submitGroup("g", primer: ["prompt": "slow", "timeout_s": 0.3], executor: "openai").primer)
                let result = try await handle.result()
                #expect(result.status == .succeeded)
                #expect(result.attempts == 2)
                let error = try await engine.store.attempts(of: handle.id).first?.error ?? ""
                #expect(error.contains("timed out"), "\(error)")
                // The slow request's connection was closed, not left waiting for its answer.
                #expect(try await waitUntil { server.abandonedRequests == 1 })
            }
        }
    }

    @Test func theEnginesJobTimeoutCancelsTheRequest() async throws {
        try await withServer { server in
            server.script(.init(.delay(.seconds(60))))
            let dir = TemporaryDirectory()
            let llm = try Self.executor(server)
            let configuration = EngineConfiguration(retryPolicy: quickRetries(1), jobTimeout: .milliseconds(300))
            try await withLLMEngine(dir, configuration, executors: [llm], afterShutdown: llm.shutdown) { engine in
                let handle = try #require(try await engine.submitGroup("g", primer: ["prompt": "slow"], executor: "openai").primer)
                let result = try await handle.result()
                #expect(result.status == .failed)
                #expect(result.error?.type == "timeout")
                #expect(try await engine.store.attempts(of: handle.id).map(\.outcome) == ["timed_out"])
                // Cancelling the attempt cancelled the HTTP request: its connection closed long before the answer was due.
                #expect(try await waitUntil { server.abandonedRequests == 1 })
            }
        }
    }

    @Test func followersAreSentThePrimersMessagesAndTheGroupsCacheKey() async throws {
        try await withServer { server in
            let dir = TemporaryDirectory()
            let llm = try Self.executor(server, includePrimerAnswer: true)
            try await withLLMEngine(dir, executors: [llm], afterShutdown: llm.shutdown) { engine in
                let context: JSONValue = [["role": "system", "content": "You review release notes."], ["role": "user", "content": "Notes: added retries to the uploader"]]
                let submission = try await engine.submitGroup(
                    "review-7", primer: ["messages": context], followers: [["prompt": "List the risks."], ["prompt": "List the tests."]], executor: "openai"
                )
                for handle in submission.jobs { #expect(try await handle.result().status == .succeeded) }

                let requests = server.chatRequests.compactMap(\.json)
                #expect(requests.count == 3)
                #expect(requests.allSatisfy { $0["prompt_cache_key"] == "review-7" })
                let answer: JSONValue = ["role": "assistant", "content": "echo: Notes: added retries to the uploader"]
                let followerMessages = requests.compactMap(\.["messages"]?.arrayValue).filter { $0.count > 2 }
                #expect(followerMessages.count == 2)
                for messages in followerMessages {
                    #expect(Array(messages.prefix(3)) == context.arrayValue! + [answer])
                    #expect(messages.count == 4)
                }
                // The primer was read from the database once for the group, not once per follower.
                #expect(llm.prefixes.reads == 1)
                // The server's prefix cache hit for the second follower (its prefix is the first's): usage says so.
                let cached = try await submission.followers.asyncMap { try await engine.store.attempts(of: $0.id).first?.usage?.cachedPromptTokens ?? 0 }
                #expect(cached.max() ?? 0 > 0, "\(cached)")
            }
        }
    }

    @Test func aPayloadWithoutMessagesFailsAtOnceWithAClearError() async throws {
        try await withServer { server in
            let dir = TemporaryDirectory()
            let llm = try Self.executor(server)
            try await withLLMEngine(dir, EngineConfiguration(retryPolicy: quickRetries(3)), executors: [llm], afterShutdown: llm.shutdown) { engine in
                let handle = try #require(try await engine.submitGroup("g", primer: ["text": "no messages"], executor: "openai").primer)
                let result = try await handle.result()
                #expect(result.status == .failed)
                #expect(result.attempts == 1)
                #expect(result.error?.message.contains("no 'messages' array") == true)
                #expect(server.chatCount == 0)
            }
        }
    }

    @Test func configurationErrorsAreClear() throws {
        let badURL = #expect(throws: LLMConfigurationError.self) { try OpenAIExecutor(OpenAIConfiguration(baseURL: "localhost:8000", model: "m")) }
        #expect(badURL?.message.contains("not an http(s) URL") == true)
        let noKey = #expect(throws: LLMConfigurationError.self) {
            try OpenAIExecutor(OpenAIConfiguration(model: "m", apiKey: .environment("ACTY_TEST_SURELY_UNSET_KEY", required: true)))
        }
        #expect(noKey?.message.contains("ACTY_TEST_SURELY_UNSET_KEY") == true)
        #expect("\(APIKey.literal(Self.key))" == "[REDACTED]")
        #expect(try APIKey.environment("MY_KEY").resolve(environment: ["MY_KEY": "from-env"]) == "from-env")
        #expect(try APIKey.environment("MY_KEY").resolve(environment: [:]) == nil)
        #expect(try APIKey.none.resolve() == nil)
        #expect(!"\(OpenAIConfiguration(model: "m", apiKey: .literal(Self.key)))".contains(Self.key))
    }

    @Test func anExecutorDroppedWithoutShutdownClosesItsClientAndOneShutsDownOnce() async throws {
        try await withServer { server in
            do {
                let dropped = try Self.executor(server)
                _ = try await dropped.execute(Job(id: JobID(1), groupKey: "g", role: .primer, payload: ["prompt": "hi"]))
            }
            let kept = try Self.executor(server)
            try await kept.shutdown()
            try await kept.shutdown()
            #expect(server.chatCount == 1)
        }
    }

    @Test func retryAfterValuesAndErrorClassification() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(ChatTransport.retryAfter("2", now: now) == .seconds(2))
        #expect(ChatTransport.retryAfter("0.5", now: now) == .milliseconds(500))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        #expect(ChatTransport.retryAfter(formatter.string(from: now + 30), now: now) == .seconds(30))
        #expect(ChatTransport.retryAfter(formatter.string(from: now - 30), now: now) == .zero)
        #expect(ChatTransport.retryAfter("soon", now: now) == nil)

        func failure(_ status: Int, after: Duration? = nil) -> any Error {
            ChatFailure(error: LLMProviderError(kind: .httpStatus, status: status, message: "m", provider: "openai"), retryAfter: after)
                .engineError(rateLimitDelay: .milliseconds(250))
        }
        let limited = try #require(failure(429, after: .seconds(3)) as? RetryAfterError)
        #expect(limited.isRateLimit && limited.delay == .seconds(3))
        let unavailable = try #require(failure(503, after: .seconds(1)) as? RetryAfterError)
        #expect(!unavailable.isRateLimit)
        for status in [400, 401, 403, 404] { #expect(failure(status) is NonRetryableError) }
        for status in [500, 502] { #expect(failure(status) is LLMProviderError) }
        // A 429 without Retry-After still tells the rate limiter, and waits the configured delay.
        let bare = try #require(failure(429) as? RetryAfterError)
        #expect(bare.isRateLimit && bare.delay == .milliseconds(250))
    }

    @Test func serverSentEventsSplitAcrossChunksAndLineEndings() {
        var parser = ServerSentEvents()
        var events = parser.feed(Array("data: {\"a\":".utf8))
        events += parser.feed(Array("1}\r\n\r\n: comment\ndata: [DO".utf8))
        events += parser.feed(Array("NE]\n\n".utf8))
        #expect(events == [#"{"a":1}"#, "[DONE]"])
        events = parser.feed(Array("data: tail".utf8))
        #expect(events.isEmpty)
        #expect(parser.finish() == ["tail"])
    }

    @Test func redactionRemovesTheExactKeyAndBearerTokens() {
        let redactor = Redactor(secrets: ["plainlookingsecret42"])
        let text = redactor.redact("key plainlookingsecret42 sent with Authorization: Bearer abcdef123456")
        #expect(!text.contains("plainlookingsecret42"))
        #expect(!text.contains("abcdef123456"))
    }
}
