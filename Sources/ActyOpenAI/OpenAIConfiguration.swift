public import Acty
import Foundation

/// An API key for an executor: given in code or read from an environment variable when the executor is created.
///
/// The key is sent in the `Authorization` header and nowhere else: it is not part of any payload, output, event or
/// log, and errors are scrubbed of it. Its `description` is `[REDACTED]`, so printing a configuration does not
/// show it.
public struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    enum Source: Sendable {
        case none
        case literal(String)
        case environment(String, required: Bool)
    }

    let source: Source

    /// No key: for local servers (Ollama, vLLM, llama.cpp server) that need none.
    public static let none = APIKey(source: .none)

    /// A key given in code.
    public static func literal(_ key: String) -> APIKey { APIKey(source: .literal(key)) }

    /// A key read from the environment variable `name` when the executor is created. When the variable is unset or
    /// empty, `required` makes creating the executor fail; otherwise no `Authorization` header is sent.
    public static func environment(_ name: String = "OPENAI_API_KEY", required: Bool = false) -> APIKey {
        APIKey(source: .environment(name, required: required))
    }

    /// The key's text, or `nil` for none.
    ///
    /// - Throws: ``LLMConfigurationError`` when a required variable is unset.
    package func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        switch source {
        case .none:
            return nil
        case .literal(let key):
            return key.isEmpty ? nil : key
        case .environment(let name, let required):
            if let value = environment[name], !value.isEmpty { return value }
            if required { throw LLMConfigurationError("the environment variable \(name) holds no API key; set it, or pass the key with .literal(_:)") }
            return nil
        }
    }

    public var description: String { SecretRedactor.placeholder }
    public var debugDescription: String { SecretRedactor.placeholder }
}

/// A setting an executor cannot work with, reported when the executor is created.
public struct LLMConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How an ``OpenAIExecutor`` calls an OpenAI-compatible chat completions endpoint.
///
/// ```swift
/// // OpenAI, the key from OPENAI_API_KEY
/// OpenAIConfiguration(model: "gpt-4o-mini")
/// // A local Ollama / vLLM / llama.cpp server
/// OpenAIConfiguration(baseURL: "http://127.0.0.1:11434/v1", model: "llama3.2", apiKey: .none)
/// ```
public struct OpenAIConfiguration: Sendable {
    /// The executor's name, which jobs use to find it.
    public var name: String
    /// The API's base URL, up to and including the version: `https://api.openai.com/v1`,
    /// `http://127.0.0.1:8000/v1` (vLLM), `http://127.0.0.1:11434/v1` (Ollama), `http://127.0.0.1:8080/v1`
    /// (llama.cpp server). Requests go to `<baseURL>/chat/completions`.
    public var baseURL: String
    /// The model when a job's payload names none.
    public var model: String
    /// The API key; by default read from `OPENAI_API_KEY`, when set.
    public var apiKey: APIKey
    /// Fields added to every request body (a job's payload overrides them): `["temperature": 0]`,
    /// `["reasoning_effort": "low"]`, a vendor's own switches.
    public var extraBody: [String: JSONValue]
    /// Headers added to every request (an organisation or project header, a gateway's routing header).
    public var extraHeaders: [String: String]
    /// How long one call may take, streaming included; a job's `timeout_s` overrides it. A call past it fails
    /// retryably. Keep it below the engine's `jobTimeout`, which cancels the whole attempt.
    public var requestTimeout: Duration
    /// Whether calls stream (SSE) unless a job's `stream` says otherwise. The stream is assembled into the same
    /// output as a plain answer, with usage (`stream_options.include_usage` is requested).
    public var stream: Bool
    /// Whether a follower is also sent its primer's answer, as an assistant message after the primer's messages.
    public var includePrimerAnswer: Bool
    /// Whether followers are sent their primer's messages at all (the group prefix).
    public var sendsGroupPrefix: Bool
    /// Whether the group's cache reference is sent as `prompt_cache_key` (OpenAI's prompt caching). Turn it off
    /// for a server that refuses unknown fields.
    public var sendsPromptCacheKey: Bool
    /// The most connections the executor's own HTTP client opens to the server (unused with a client you pass in).
    public var maximumConnections: Int
    /// How long the retry after a 429 without `Retry-After` waits (a 429 always tells the engine's rate limiter).
    public var rateLimitRetryDelay: Duration

    /// Creates a configuration.
    public init(
        name: String = "openai",
        baseURL: String = "https://api.openai.com/v1",
        model: String,
        apiKey: APIKey = .environment(),
        extraBody: [String: JSONValue] = [:],
        extraHeaders: [String: String] = [:],
        requestTimeout: Duration = .seconds(120),
        stream: Bool = false,
        includePrimerAnswer: Bool = false,
        sendsGroupPrefix: Bool = true,
        sendsPromptCacheKey: Bool = true,
        maximumConnections: Int = 64,
        rateLimitRetryDelay: Duration = .seconds(1)
    ) {
        self.name = name
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
        self.extraBody = extraBody
        self.extraHeaders = extraHeaders
        self.requestTimeout = requestTimeout
        self.stream = stream
        self.includePrimerAnswer = includePrimerAnswer
        self.sendsGroupPrefix = sendsGroupPrefix
        self.sendsPromptCacheKey = sendsPromptCacheKey
        self.maximumConnections = maximumConnections
        self.rateLimitRetryDelay = rateLimitRetryDelay
    }

    /// `<baseURL>/chat/completions`, after checking the settings.
    package func endpoint() throws -> String {
        try Self.endpoint(baseURL: baseURL, path: "chat/completions")
    }

    package static func endpoint(baseURL: String, path: String) throws -> String {
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            throw LLMConfigurationError("the base URL '\(SecretRedactor.redact(baseURL))' is not an http(s) URL such as https://api.openai.com/v1")
        }
        return baseURL.hasSuffix("/") ? baseURL + path : baseURL + "/" + path
    }

    package func validate() throws {
        guard !name.isEmpty else { throw LLMConfigurationError("the executor's name is empty") }
        guard !model.isEmpty else { throw LLMConfigurationError("the model is empty; pass a model such as gpt-4o-mini") }
        guard requestTimeout > .zero else { throw LLMConfigurationError("requestTimeout must be positive") }
        guard maximumConnections >= 1 else { throw LLMConfigurationError("maximumConnections must be at least 1") }
        guard rateLimitRetryDelay >= .zero else { throw LLMConfigurationError("rateLimitRetryDelay must not be negative") }
        _ = try endpoint()
    }
}
