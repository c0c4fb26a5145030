public import Acty
public import AsyncHTTPClient
import NIOCore
package import NIOSSL

/// Runs jobs as calls to an OpenAI-compatible chat completions endpoint: OpenAI, vLLM, llama.cpp server, Ollama or
/// any compatible gateway.
///
/// ```swift
/// let llm = try OpenAIExecutor(OpenAIConfiguration(baseURL: "http://127.0.0.1:11434/v1", model: "llama3.2", apiKey: .none))
/// let engine = try await ActyEngine(database: .file("acty.db"), executors: [llm])
/// try await engine.submitGroup(
///     "review-42", executor: "openai",
///     primer: ["messages": [["role": "system", "content": "You review release notes."], ["role": "user", "content": "Notes: …"]]],
///     followers: [["prompt": "List the risks."], ["prompt": "List the migrations."]]
/// )
/// …
/// try await engine.shutdown()
/// try await llm.shutdown()   // closes the executor's own HTTP client
/// ```
///
/// **Payload** (see ``OpenAIConfiguration`` for the defaults): `messages` (`[{"role", "content"}]`), or a `prompt`
/// or `input` string, optionally after a `system` string; per-job `model`, `temperature`, `max_tokens` and the
/// other OpenAI fields, any other body field under `options`; `stream` and `timeout_s` for this call.
///
/// **Output**: `{"content", "role", "finish_reason", "model", "usage", "id"}` (and `tool_calls` when the model
/// called tools). The usage's prompt, completion and cached prompt tokens (`prompt_tokens_details.cached_tokens`) are
/// recorded on the attempt with `Job.recordUsage`, streamed calls included.
///
/// **Group prefix**: a follower is sent its primer's messages in front of its own (and, with
/// ``OpenAIConfiguration/includePrimerAnswer``, the primer's answer as an assistant message), read once per group
/// with `Job.primer()`; every job of the group sends the same `prompt_cache_key` (the group's cache handle's
/// provider reference, else its cache key, else the group key), so the provider's prefix cache hits for the
/// followers.
///
/// **Errors**: 429, 5xx (and 408, 409, 425), connection failures, timeouts, broken streams and malformed answers
/// fail the attempt retryably; a `Retry-After` on a 429 or 503 sets the retry's due time (`RetryAfterError`, marked
/// as a rate limit for a 429, so the engine's rate limiter slows the executor down) instead of the engine's backoff;
/// a 429 without one waits ``OpenAIConfiguration/rateLimitRetryDelay``. 400, 401, 403, 404 and other client errors fail the
/// job at once (``NonRetryableError``). The error carries the provider's message with the API key and other secrets
/// removed (``LLMProviderError``). Cancelling the job (or the engine's `jobTimeout`) cancels the HTTP request.
///
/// **HTTP client**: pass your own `HTTPClient` to share its connection pool (you shut it down), or let the executor
/// create one, which ``shutdown()`` closes once the engine has shut down.
public final class OpenAIExecutor: Executor {
    /// The executor's name (``OpenAIConfiguration/name``).
    public let name: String
    /// The settings it was created with (the API key stays unreadable: its description is `[REDACTED]`).
    public let configuration: OpenAIConfiguration
    private let call: ChatCallSettings
    private let client: OwnedHTTPClient
    package let prefixes = PrimerPrefixCache()

    /// Creates an executor.
    ///
    /// - Parameters:
    ///   - configuration: where to call and how.
    ///   - httpClient: a client to share; `nil` creates one that ``shutdown()`` closes.
    /// - Throws: ``LLMConfigurationError`` for an unusable base URL, an empty model, or a required API key variable
    ///   that is unset.
    public init(_ configuration: OpenAIConfiguration, httpClient: HTTPClient? = nil) throws {
        try configuration.validate()
        let key = try configuration.apiKey.resolve()
        self.name = configuration.name
        self.configuration = configuration
        self.client = OwnedHTTPClient(httpClient, maximumConnections: configuration.maximumConnections)
        var headers = configuration.extraHeaders.map { ($0.key, $0.value) }
        if let key { headers.append(("Authorization", "Bearer \(key)")) }
        self.call = ChatCallSettings(
            url: try configuration.endpoint(), headers: headers, model: configuration.model, extraBody: configuration.extraBody,
            timeout: configuration.requestTimeout, stream: configuration.stream, includePrimerAnswer: configuration.includePrimerAnswer,
            sendsGroupPrefix: configuration.sendsGroupPrefix, sendsPromptCacheKey: configuration.sendsPromptCacheKey,
            rateLimitDelay: configuration.rateLimitRetryDelay, transport: ChatTransport(client: client.client, provider: "openai", redactor: Redactor(secrets: [key]))
        )
    }

    /// Runs one attempt: one chat completions call.
    public func execute(_ job: Job) async throws -> JSONValue {
        try await call.run(job, prefixes: prefixes)
    }

    /// Closes the HTTP client the executor created (a client passed in is left open). Call it after the engine
    /// has shut down; calling it again does nothing.
    public func shutdown() async throws {
        try await client.shutdown()
    }
}

/// The per-executor settings of a chat call and the steps every attempt takes: payload to body, group prefix,
/// the call, usage recording and error mapping. `GigaChatExecutor` runs the same steps with its own headers.
package struct ChatCallSettings: Sendable {
    package var url: String
    package var headers: [(String, String)]
    package var model: String
    package var extraBody: [String: JSONValue]
    package var timeout: Duration
    package var stream: Bool
    package var includePrimerAnswer: Bool
    package var sendsGroupPrefix: Bool
    package var sendsPromptCacheKey: Bool
    /// Whether a stream asks for usage with `stream_options.include_usage` (GigaChat sends it unasked).
    package var requestsStreamUsage: Bool
    /// How long a 429 without `Retry-After` makes the retry wait.
    package var rateLimitDelay: Duration
    package var transport: ChatTransport

    package init(
        url: String, headers: [(String, String)], model: String, extraBody: [String: JSONValue], timeout: Duration, stream: Bool,
        includePrimerAnswer: Bool, sendsGroupPrefix: Bool, sendsPromptCacheKey: Bool, requestsStreamUsage: Bool = true,
        rateLimitDelay: Duration, transport: ChatTransport
    ) {
        self.url = url
        self.headers = headers
        self.model = model
        self.extraBody = extraBody
        self.timeout = timeout
        self.stream = stream
        self.includePrimerAnswer = includePrimerAnswer
        self.sendsGroupPrefix = sendsGroupPrefix
        self.sendsPromptCacheKey = sendsPromptCacheKey
        self.requestsStreamUsage = requestsStreamUsage
        self.rateLimitDelay = rateLimitDelay
        self.transport = transport
    }

    /// The group's cache reference: its cache handle's provider reference, else its cache key, else the group key.
    package static func cacheReference(of job: Job) -> String {
        job.cache?.providerRef ?? job.cache?.key ?? job.groupKey
    }

    /// The call for `job`, with the group prefix in front of its messages.
    package func makeCall(for job: Job, prefixes: PrimerPrefixCache) async throws -> ChatCall {
        var messages = try ChatPayload.messages(in: job.payload)
        if sendsGroupPrefix {
            let prefix = try await prefixes.prefix(for: job, includeAnswer: includePrimerAnswer)
            if !prefix.isEmpty { messages = prefix + messages }
        }
        let body = ChatPayload.body(
            payload: job.payload, messages: messages, model: model, defaults: extraBody, stream: ChatPayload.stream(job.payload, default: stream),
            promptCacheKey: sendsPromptCacheKey ? Self.cacheReference(of: job) : nil, requestsStreamUsage: requestsStreamUsage
        )
        return ChatCall(url: url, headers: headers, body: body, timeout: ChatPayload.timeout(job.payload, default: timeout))
    }

    /// Sends `call`, records its usage on `job`, and returns the output.
    ///
    /// - Throws: ``ChatFailure`` (the caller maps it with ``ChatFailure/engineError(rateLimitDelay:)``), or `CancellationError`.
    package func complete(_ call: ChatCall, for job: Job) async throws -> JSONValue {
        let completion = try await transport.send(call)
        if let usage = completion.tokenUsage { job.recordUsage(usage) }
        return completion.output
    }

    /// One attempt with these settings.
    package func run(_ job: Job, prefixes: PrimerPrefixCache) async throws -> JSONValue {
        let call = try await makeCall(for: job, prefixes: prefixes)
        do {
            return try await complete(call, for: job)
        } catch let failure as ChatFailure {
            throw failure.engineError(rateLimitDelay: rateLimitDelay)
        }
    }
}

/// An `HTTPClient` that is either the caller's (left open) or the executor's own (closed once by ``shutdown()``, or
/// in the background when the executor is dropped without it).
package final class OwnedHTTPClient: Sendable {
    package let client: HTTPClient
    private let isOwned: Bool
    private let isShutDown = Locked(false)

    package init(_ client: HTTPClient?, maximumConnections: Int, tls: TLSConfiguration? = nil) {
        if let client {
            self.client = client
            isOwned = false
        } else {
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: maximumConnections)
            configuration.timeout = .init(connect: .seconds(10))
            // A chat call is never redirected: following one could carry the Authorization header to another host.
            configuration.redirectConfiguration = .disallow
            configuration.tlsConfiguration = tls
            self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            isOwned = true
        }
    }

    package func shutdown() async throws {
        guard isOwned, isShutDown.withLock({ state in defer { state = true }; return !state }) else { return }
        try await client.shutdown()
    }

    deinit {
        // An executor dropped without `shutdown()`: close its own client in the background rather than leak it (and
        // trip AsyncHTTPClient's check for clients never shut down). The shutdown keeps the client alive until done.
        if isOwned, isShutDown.withLock({ !$0 }) { client.shutdown { _ in } }
    }
}
