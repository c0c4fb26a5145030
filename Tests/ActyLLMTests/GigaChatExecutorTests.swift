@testable import ActyGigaChat
import ActyLLMTestServer
import ActyOpenAI
import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// GigaChatExecutor through a real engine against the test server's OAuth and chat endpoints.
@Suite(.timeLimit(.minutes(1)))
struct GigaChatExecutorTests {
    /// base64("client-id:client-secret-do-not-leak")
    static let credentials = Data("client-id:client-secret-do-not-leak".utf8).base64EncodedString()

    static func options(lifetime: Duration = .seconds(600)) -> LLMTestServer.Options {
        .init(auth: .oauth(credentials: credentials, tokenLifetime: lifetime))
    }

    static func executor(_ server: LLMTestServer, credentials: String = credentials, refreshMargin: Duration = .zero, stream: Bool = false) throws -> GigaChatExecutor {
        try GigaChatExecutor(
            GigaChatConfiguration(
                baseURL: server.baseURL, authURL: server.oauthURL, credentials: .literal(credentials), tokenRefreshMargin: refreshMargin,
                requestTimeout: .seconds(10), stream: stream
            )
        )
    }

    static var fixtures: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path }

    @Test func everyJobOfAGroupSharesTheSessionAndTheProcessFetchesOneToken() async throws {
        try await withServer(Self.options()) { server in
            let dir = TemporaryDirectory()
            let giga = try Self.executor(server)
            let configuration = EngineConfiguration(primerWorkers: 3, followerWorkers: 12)
            try await withLLMEngine(dir, configuration, executors: [giga], afterShutdown: giga.shutdown) { engine in
                var submissions: [GroupSubmission] = []
                for group in 0..<3 {
                    let followers = (0..<10).map { JSONValue.object(["prompt": .string("question \($0)")]) }
                    submissions.append(
                        try await engine.submitGroup("review-\(group)", primer: ["prompt": .string("context \(group)")], followers: followers, executor: "gigachat")
                    )
                }
                for handle in submissions.flatMap(\.jobs) {
                    let result = try await handle.result()
                    #expect(result.status == .succeeded, "\(String(describing: result.error))")
                }
            }
            #expect(server.tokenFetches == 1)
            let oauth = try #require(server.requests.first { $0.path == "/api/v2/oauth" })
            #expect(oauth.headers["authorization"] == "Basic \(Self.credentials)")
            #expect(oauth.headers["rquid"].flatMap(UUID.init(uuidString:)) != nil)
            #expect(oauth.body == "scope=GIGACHAT_API_PERS")

            let chats = server.chatRequests
            #expect(chats.count == 33)
            #expect(chats.allSatisfy { $0.headers["authorization"]?.hasPrefix("Bearer tok-1-") == true })
            var sessions: [String: Set<String>] = [:]
            for chat in chats {
                let group = try #require(chat.json?["messages"]?[0]?["content"]?.stringValue)  // the primer's message leads
                sessions[group, default: []].insert(chat.headers["x-session-id"] ?? "none")
            }
            #expect(sessions.count == 3)
            #expect(sessions.values.allSatisfy { $0.count == 1 && !$0.contains("none") }, "\(sessions)")
            #expect(Set(sessions.values.flatMap { $0 }).count == 3)
            #expect(chats.allSatisfy { $0.json?["prompt_cache_key"] == nil })
        }
    }

    @Test func aTokenIsFetchedAgainOnlyOncePerExpiry() async throws {
        let lifetime = 1.0
        try await withServer(Self.options(lifetime: .seconds(lifetime))) { server in
            let dir = TemporaryDirectory()
            let giga = try Self.executor(server)
            try await withLLMEngine(dir, EngineConfiguration(followerWorkers: 8), executors: [giga], afterShutdown: giga.shutdown) { engine in
                func runGroup(_ key: String) async throws {
                    let followers = (0..<8).map { JSONValue.object(["prompt": .string("q\($0)")]) }
                    for handle in try await engine.submitGroup(key, primer: ["prompt": "p"], followers: followers, executor: "gigachat").jobs {
                        #expect(try await handle.result().status == .succeeded)
                    }
                }
                try await runGroup("first")
                try await Task.sleep(for: .seconds(lifetime * 1.2))
                try await runGroup("second")
            }
            // However many jobs wanted a token at once, a new one was fetched only when the last had expired (with no
            // refresh margin): the fetches are at least a lifetime apart, and the pause past the expiry forced one.
            let fetched = server.requests.filter { $0.path == "/api/v2/oauth" }.map(\.receivedAt)
            #expect(fetched.count >= 2)
            for (earlier, later) in zip(fetched, fetched.dropFirst()) {
                #expect(later - earlier >= lifetime - 0.01, "fetches at \(fetched)")
            }
        }
    }

    @Test func aRefusedTokenIsReplacedOnceAndTheCallSentAgain() async throws {
        try await withServer(Self.options()) { server in
            let dir = TemporaryDirectory()
            let giga = try Self.executor(server)
            try await withLLMEngine(dir, EngineConfiguration(retryPolicy: RetryPolicy(maxAttempts: 1)), executors: [giga], afterShutdown: giga.shutdown) { engine in
                let first = try #require(try await engine.submitGroup("a", primer: ["prompt": "one"], executor: "gigachat").primer)
                #expect(try await first.result().status == .succeeded)
                server.revokeTokens()
                let second = try #require(try await engine.submitGroup("b", primer: ["prompt": "two"], executor: "gigachat").primer)
                let result = try await second.result()
                #expect(result.status == .succeeded, "\(String(describing: result.error))")
                #expect(result.attempts == 1)
            }
            #expect(server.tokenFetches == 2)
            #expect(server.chatRequests.map(\.status) == [200, 401, 200])
        }
    }

    @Test func wrongCredentialsFailAtOnceWithoutLeakingThem() async throws {
        try await withServer(Self.options()) { server in
            let dir = TemporaryDirectory()
            let wrong = Data("client-id:wrong-secret-value".utf8).base64EncodedString()
            let giga = try Self.executor(server, credentials: wrong)
            try await withLLMEngine(dir, EngineConfiguration(retryPolicy: quickRetries(3)), executors: [giga], afterShutdown: giga.shutdown) { engine in
                let handle = try #require(try await engine.submitGroup("g", primer: ["prompt": "hi"], executor: "gigachat").primer)
                let result = try await handle.result()
                #expect(result.status == .failed)
                #expect(result.attempts == 1)
                #expect(result.error?.message.contains("credentials doesn't match") == true, "\(String(describing: result.error))")
            }
            #expect(server.chatCount == 0)
            let bytes = databaseBytes(dir)
            #expect(bytes.range(of: Data(wrong.utf8)) == nil)
            #expect(bytes.range(of: Data("credentials doesn't match".utf8)) != nil)
        }
    }

    @Test func aStreamedAnswerCarriesTheSessionToo() async throws {
        try await withServer(Self.options()) { server in
            let dir = TemporaryDirectory()
            let giga = try Self.executor(server, stream: true)
            try await withLLMEngine(dir, executors: [giga], afterShutdown: giga.shutdown) { engine in
                let handle = try #require(try await engine.submitGroup("g", primer: ["prompt": "stream this"], executor: "gigachat").primer)
                let result = try await handle.result()
                #expect(result.output?["content"] == "echo: stream this")
            }
            let chat = try #require(server.chatRequests.first)
            #expect(chat.headers["x-session-id"] == GigaChatExecutor.stableID("g"))
            #expect(chat.json?["stream"] == true)
            #expect(chat.json?["stream_options"] == nil)
        }
    }

    @Test func theCABundleOptionLoadsAPEMAndRejectsABadPath() throws {
        let pem = Self.fixtures + "/test-ca.pem"
        _ = try GigaChatExecutor.tlsConfiguration(caBundle: pem)
        let missing = #expect(throws: LLMConfigurationError.self) {
            try GigaChatExecutor(GigaChatConfiguration(credentials: .literal("x"), caBundlePath: "/nonexistent/ca.pem"))
        }
        #expect(missing?.message.contains("'/nonexistent/ca.pem' does not exist") == true)
        let dir = TemporaryDirectory()
        let notPEM = dir.file("ca.pem")
        try Data("this is not a certificate".utf8).write(to: URL(fileURLWithPath: notPEM))
        let garbage = #expect(throws: LLMConfigurationError.self) {
            try GigaChatExecutor(GigaChatConfiguration(credentials: .literal("x"), caBundlePath: notPEM))
        }
        #expect(garbage?.message.contains("ca.pem") == true, "\(String(describing: garbage))")
    }

    @Test func sessionIDsAreStableAndPreferTheCacheReference() {
        #expect(GigaChatExecutor.stableID("group-1") == GigaChatExecutor.stableID("group-1"))
        #expect(GigaChatExecutor.stableID("group-1") != GigaChatExecutor.stableID("group-2"))
        #expect(UUID(uuidString: GigaChatExecutor.stableID("group-1")) != nil)
        let job = Job(id: JobID(1), groupKey: "g", role: .follower, payload: [:], cache: CacheHandle(key: "k", providerRef: "session-from-registry"))
        #expect(GigaChatExecutor.sessionID(of: job) == "session-from-registry")
    }
}

/// GigaChat's servers use their own certificate authority: the CA bundle option is what lets the executor trust them.
@Suite(.timeLimit(.minutes(1)))
struct GigaChatTLSTests {
    @Test func aServerSignedByTheBundlesCAIsTrustedOnlyWithTheBundle() async throws {
        let fixtures = GigaChatExecutorTests.fixtures
        let options = LLMTestServer.Options(
            auth: .oauth(credentials: GigaChatExecutorTests.credentials, tokenLifetime: .seconds(600)),
            tls: (fixtures + "/test-ca.pem", fixtures + "/test-server-key.pem")
        )
        try await withServer(options) { server in
            #expect(server.baseURL.hasPrefix("https://"))
            func configuration(caBundle: String?) -> GigaChatConfiguration {
                GigaChatConfiguration(
                    baseURL: server.baseURL, authURL: server.oauthURL, credentials: .literal(GigaChatExecutorTests.credentials), caBundlePath: caBundle,
                    tokenTimeout: .seconds(5), requestTimeout: .seconds(5)
                )
            }
            let trusting = try GigaChatExecutor(configuration(caBundle: fixtures + "/test-ca.pem"))
            var untrustingConfiguration = configuration(caBundle: nil)
            untrustingConfiguration.name = "untrusting"
            // The connection pool retries a failed handshake until the request's deadline: keep it short.
            untrustingConfiguration.requestTimeout = .seconds(1)
            let untrusting = try GigaChatExecutor(untrustingConfiguration)
            let dir = TemporaryDirectory()
            try await withLLMEngine(
                dir, EngineConfiguration(retryPolicy: RetryPolicy(maxAttempts: 1)), executors: [trusting, untrusting],
                afterShutdown: {
                    try await trusting.shutdown()
                    try await untrusting.shutdown()
                }
            ) { engine in
                let ok = try #require(try await engine.submitGroup("a", primer: ["prompt": "over tls"], executor: "gigachat").primer)
                let okResult = try await ok.result()
                #expect(okResult.output?["content"] == "echo: over tls", "\(String(describing: okResult.error))")
                let refused = try #require(try await engine.submitGroup("b", primer: ["prompt": "over tls"], executor: "untrusting").primer)
                let result = try await refused.result()
                #expect(result.status == .failed)
                // It reuses the process's token (same endpoint and credentials), but cannot trust the chat server.
                #expect(result.error?.message.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(String(describing: result.error))")
            }
        }
    }
}
