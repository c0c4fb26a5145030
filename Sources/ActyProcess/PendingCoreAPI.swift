// TEMPORARY: stand-ins for the core API that lands on main in "Executors report …"; deleted when main is merged.
import Acty

struct TokenUsage: Sendable, Hashable, Codable {
    var promptTokens: Int
    var completionTokens: Int
    var cachedPromptTokens: Int
    var totalTokens: Int { promptTokens + completionTokens }
    init(promptTokens: Int = 0, completionTokens: Int = 0, cachedPromptTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
    }
}

struct PrimerOutcome: Sendable, Hashable {
    var payload: JSONValue
    var output: JSONValue?
}

struct RetryAfterError: Error, Sendable {
    let underlying: any Error
    let delay: Duration
    let isRateLimit: Bool
    init(_ underlying: any Error, after delay: Duration, isRateLimit: Bool = false) {
        self.underlying = underlying
        self.delay = delay
        self.isRateLimit = isRateLimit
    }
}

extension Job {
    func recordUsage(_ usage: TokenUsage) {}
    func primer() async throws -> PrimerOutcome? { nil }
}
