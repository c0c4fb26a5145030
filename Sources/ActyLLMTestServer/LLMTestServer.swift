public import ActyCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A small OpenAI-compatible and GigaChat-like HTTP server for tests, demos and benchmarks: it answers
/// `POST …/chat/completions` (plain JSON or SSE with `"stream": true`) and `POST /api/v2/oauth`, records every
/// request, and follows scripted ``Rule``s (429 with `Retry-After`, 500, 401, slow answers, broken streams).
///
/// ```swift
/// let server = try await LLMTestServer.start()
/// defer { Task { try await server.shutdown() } }
/// server.script(Rule(matching: "please fail", .status(500, body: "boom"), times: 1))
/// // point an executor at server.baseURL ("http://127.0.0.1:<port>/v1")
/// ```
///
/// The answer is `"echo: <the last message's content>"` unless a rule gives another. Usage counts whitespace-separated
/// words: `prompt_tokens` over all messages, `completion_tokens` over the answer, and
/// `prompt_tokens_details.cached_tokens` the words of the leading messages that the previous request with the same
/// `prompt_cache_key` (or `X-Session-ID`) also began with: a crude provider-side prefix cache.
public final class LLMTestServer: Sendable {
    /// How the chat endpoint checks callers.
    public enum Auth: Sendable {
        /// Anyone may call.
        case none
        /// Callers must send `Authorization: Bearer <key>`; a wrong key gets a 401 whose message quotes the key sent,
        /// as OpenAI's does.
        case apiKey(String)
        /// GigaChat-style: `POST /api/v2/oauth` with `Authorization: Basic <credentials>` hands out tokens that live
        /// `tokenLifetime`; chat calls must carry a live one.
        case oauth(credentials: String, tokenLifetime: Duration)
    }

    /// What the server does with a chat request a rule matched.
    public enum Behaviour: Sendable {
        /// Answers with this text.
        case reply(String)
        /// Answers with this status, extra headers and body.
        case status(Int, headers: [String: String] = [:], body: String = "")
        /// Waits, then answers as usual (or, for a stream, sends the head at once and waits before the first chunk).
        case delay(Duration)
        /// Streams `chunks` content chunks and then cuts the connection; a non-streaming request gets half a body
        /// before the cut.
        case brokenStream(afterChunks: Int)
        /// Streams the content and ends the response cleanly, but with no `finish_reason` and no `[DONE]`.
        case incompleteStream
        /// Answers with a call of the function `name` with these JSON `arguments` (streamed in two pieces).
        case toolCall(name: String, arguments: String)
    }

    /// A scripted behaviour for the requests whose body contains `matching` (every request when `nil`), used
    /// `times` times (forever when `nil`). The first rule that matches and has uses left wins.
    public struct Rule: Sendable {
        public var matching: String?
        public var behaviour: Behaviour
        public var times: Int?

        public init(matching: String? = nil, _ behaviour: Behaviour, times: Int? = nil) {
            self.matching = matching
            self.behaviour = behaviour
            self.times = times
        }
    }

    /// One request as the server received it.
    public struct RecordedRequest: Sendable {
        public var method: String
        public var path: String
        /// Header names in lower case; a repeated header keeps its last value.
        public var headers: [String: String]
        public var body: String
        /// When the request's head arrived, as seconds since 1970.
        public var receivedAt: Double
        /// The status the server answered with.
        public var status: Int

        /// The body parsed as JSON, or `nil`.
        public var json: JSONValue? { try? JSONValue(jsonString: body) }
        /// Whether this was a chat completion call.
        public var isChat: Bool { path.hasSuffix("/chat/completions") }
    }

    /// The server's settings.
    public struct Options: Sendable {
        public var auth: Auth
        /// Whether requests are kept for ``requests`` (a benchmark turns it off).
        public var recordRequests: Bool
        /// The `model` the server reports when a request names none.
        public var model: String
        /// Serve HTTPS with this PEM certificate (chain) and private key instead of plain HTTP.
        public var tls: (certificatePath: String, keyPath: String)?

        public init(auth: Auth = .none, recordRequests: Bool = true, model: String = "acty-test-model", tls: (certificatePath: String, keyPath: String)? = nil) {
            self.auth = auth
            self.recordRequests = recordRequests
            self.model = model
            self.tls = tls
        }
    }

    /// The port the server listens on.
    public let port: Int
    /// The host it listens on.
    public let host: String
    let options: Options
    let state = Locked(ServerState())
    private let channel: any Channel

    /// The base URL an OpenAI-compatible client takes: `http://host:port/v1` (`https` with TLS).
    public var baseURL: String { "\(scheme)://\(host):\(port)/v1" }
    /// The OAuth token endpoint: `http://host:port/api/v2/oauth` (`https` with TLS).
    public var oauthURL: String { "\(scheme)://\(host):\(port)/api/v2/oauth" }
    private var scheme: String { options.tls == nil ? "http" : "https" }

    private init(channel: any Channel, host: String, port: Int, options: Options) {
        self.channel = channel
        self.host = host
        self.port = port
        self.options = options
    }

    /// Starts a server on `host` and `port` (0 picks a free port).
    public static func start(host: String = "127.0.0.1", port: Int = 0, options: Options = Options()) async throws -> LLMTestServer {
        let box = Locked<LLMTestServer?>(nil)
        let tls = try options.tls.map { paths in
            try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: try NIOSSLCertificate.fromPEMFile(paths.certificatePath).map { .certificate($0) },
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: paths.keyPath, format: .pem))
                )
            )
        }
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(server: { box.withLock { $0 } }))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        let server = LLMTestServer(channel: channel, host: host, port: channel.localAddress?.port ?? port, options: options)
        box.withLock { $0 = server }
        return server
    }

    /// Stops listening. Connections already open finish their current request.
    public func shutdown() async throws {
        try await channel.close()
    }

    /// Waits until the server is shut down (for the command-line wrapper).
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }

    /// Adds a rule after those already scripted.
    public func script(_ rule: Rule) {
        state.withLock { $0.rules.append(rule) }
    }

    /// Every request received so far, oldest first.
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }
    /// The chat completion requests received so far, oldest first.
    public var chatRequests: [RecordedRequest] { requests.filter(\.isChat) }
    /// How many chat completion requests arrived (counted also when recording is off).
    public var chatCount: Int { state.withLock { $0.chatCount } }
    /// How many requests the client abandoned (closed the connection) while their delayed answer was not yet due.
    public var abandonedRequests: Int { state.withLock { $0.abandoned } }
    /// How many tokens the OAuth endpoint handed out.
    public var tokenFetches: Int { state.withLock { $0.tokensIssued.count } }

    /// Makes every token handed out so far invalid, so the next chat call with one gets a 401.
    public func revokeTokens() {
        state.withLock { $0.revokedBefore = $0.tokensIssued.count }
    }
}

/// The server's mutable state, behind a lock.
struct ServerState {
    var rules: [LLMTestServer.Rule] = []
    var requests: [LLMTestServer.RecordedRequest] = []
    var chatCount = 0
    var abandoned = 0
    /// Token → expiry (seconds since 1970), in the order handed out.
    var tokensIssued: [(token: String, expiresAt: Double)] = []
    /// Tokens with an index below this are revoked.
    var revokedBefore = 0
    /// Per prompt-cache key: the messages of the last request with it.
    var prefixCache: [String: [JSONValue]] = [:]

    /// The behaviour of the first rule matching `body`, using up one of its uses.
    mutating func behaviour(for body: String) -> LLMTestServer.Behaviour? {
        for index in rules.indices {
            let rule = rules[index]
            if let matching = rule.matching, !body.contains(matching) { continue }
            if let times = rule.times {
                guard times > 0 else { continue }
                rules[index].times = times - 1
            }
            return rule.behaviour
        }
        return nil
    }
}
