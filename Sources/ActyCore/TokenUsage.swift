/// Tokens an attempt used, as an LLM provider reports them.
///
/// Executors report it with ``Job/recordUsage(_:)``; the engine stores it on the attempt's row and in the attempt's
/// `job_succeeded`, `job_failed` or `job_retrying` event, and `acty-query` sums it by lane, group and executor.
public struct TokenUsage: Sendable, Hashable, Codable {
    /// Tokens of the prompt, cached ones included.
    public var promptTokens: Int
    /// Tokens of the answer.
    public var completionTokens: Int
    /// Prompt tokens the provider served from its prefix cache.
    public var cachedPromptTokens: Int

    /// Prompt and answer tokens together.
    public var totalTokens: Int { promptTokens + completionTokens }

    /// Creates a usage record.
    public init(promptTokens: Int = 0, completionTokens: Int = 0, cachedPromptTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
    }

    /// The usage of two calls together.
    public static func + (a: TokenUsage, b: TokenUsage) -> TokenUsage {
        TokenUsage(
            promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens,
            cachedPromptTokens: a.cachedPromptTokens + b.cachedPromptTokens
        )
    }

    private enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case cachedPromptTokens = "cached_prompt_tokens"
    }

    /// The usage as stored in events: `{"prompt_tokens":…,"completion_tokens":…,"cached_prompt_tokens":…}`.
    package var jsonString: String {
        #"{"prompt_tokens":\#(promptTokens),"completion_tokens":\#(completionTokens),"cached_prompt_tokens":\#(cachedPromptTokens)}"#
    }
}

/// A follower's view of its group's primer, as it ran: see ``Job/primer()``.
public struct PrimerOutcome: Sendable, Hashable {
    /// The primer's payload (as a result handler last resubmitted it).
    public var payload: JSONValue
    /// The primer's output when it succeeded; `nil` while it has not, or when it failed.
    public var output: JSONValue?

    /// Creates a primer outcome.
    public init(payload: JSONValue, output: JSONValue?) {
        self.payload = payload
        self.output = output
    }
}

/// What the engine lends one attempt's ``Job``: where its usage goes and how it reads its primer. Shared by the
/// copies of the job value an executor makes.
package final class AttemptContext: Sendable {
    private let usage = Locked<TokenUsage?>(nil)
    private let loadPrimer: @Sendable () async throws -> PrimerOutcome?

    package init(loadPrimer: @escaping @Sendable () async throws -> PrimerOutcome?) {
        self.loadPrimer = loadPrimer
    }

    package func record(_ usage: TokenUsage) {
        self.usage.withLock { $0 = ($0 ?? TokenUsage()) + usage }
    }

    /// What the attempt reported, or `nil` when it reported nothing.
    package var recordedUsage: TokenUsage? { usage.withLock { $0 } }

    package func primer() async throws -> PrimerOutcome? { try await loadPrimer() }
}
