// TEMPORARY: stand-ins for the core API landing on main ("Executors report ..."); deleted when main is merged.
public import Acty

public struct TokenUsage: Sendable, Hashable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var cachedPromptTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }
    public init(promptTokens: Int = 0, completionTokens: Int = 0, cachedPromptTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
    }
}

public struct PrimerOutcome: Sendable, Hashable {
    public var payload: JSONValue
    public var output: JSONValue?
}

public struct RetryAfterError: Error, Sendable {
    public let underlying: any Error
    public let delay: Duration
    public let isRateLimit: Bool
    public init(_ underlying: any Error, after delay: Duration, isRateLimit: Bool = false) {
        self.underlying = underlying
        self.delay = delay
        self.isRateLimit = isRateLimit
    }
}

extension Job {
    public func recordUsage(_ usage: TokenUsage) {}
    public func primer() async throws -> PrimerOutcome? { nil }
}
