import Acty
import Foundation

/// A failed call to an LLM provider, as an executor of this module throws it (wrapped in ``NonRetryableError`` or
/// `RetryAfterError` where that applies).
///
/// Its message is the provider's own error message (from `{"error": {"message": …}}` or `{"message": …}`), cut to
/// 500 characters, with credentials removed: the API key the executor sent, bearer tokens and anything else that looks
/// like a secret are replaced by `[REDACTED]` before the error can reach the database, an event or a log.
public struct LLMProviderError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure it was.
    public enum Kind: String, Sendable {
        /// The provider answered with an HTTP error status.
        case httpStatus = "http_status"
        /// The connection could not be made or broke before an answer came.
        case connection
        /// The request took longer than its timeout.
        case timeout
        /// A streamed answer ended before the provider finished it (no `[DONE]` and no finish reason, or a cut
        /// connection): the partial text is not a result.
        case brokenStream = "broken_stream"
        /// The answer was not the JSON an OpenAI-compatible server sends.
        case invalidResponse = "invalid_response"
        /// Getting an OAuth token failed.
        case authentication
    }

    /// What kind of failure it was.
    public var kind: Kind
    /// The HTTP status, for ``Kind/httpStatus`` (and an authentication failure with a status).
    public var status: Int?
    /// The provider's message, redacted.
    public var message: String
    /// The provider's name, as the executor calls it (`openai`, `gigachat`).
    public var provider: String

    /// Creates an error; `message` is kept as given (callers redact it first).
    public init(kind: Kind, status: Int? = nil, message: String, provider: String) {
        self.kind = kind
        self.status = status
        self.message = message
        self.provider = provider
    }

    /// Whether a retry may succeed: 408, 409, 425, 429 and 5xx, connection failures, timeouts, broken streams and
    /// invalid answers (a proxy's error page, say) are worth retrying; other statuses (400, 401, 403, 404, 422) are not.
    public var isRetryable: Bool {
        switch kind {
        case .httpStatus, .authentication:
            guard let status else { return false }
            return status == 408 || status == 409 || status == 425 || status == 429 || status >= 500
        case .connection, .timeout, .brokenStream, .invalidResponse:
            return true
        }
    }

    public var description: String {
        switch kind {
        case .httpStatus: "\(provider) answered HTTP \(status ?? 0): \(message)"
        case .authentication: "\(provider) authentication failed\(status.map { " (HTTP \($0))" } ?? ""): \(message)"
        case .connection: "\(provider) connection failed: \(message)"
        case .timeout: "\(provider) request timed out: \(message)"
        case .brokenStream: "\(provider) stream broke off: \(message)"
        case .invalidResponse: "\(provider) sent an invalid answer: \(message)"
        }
    }
}

/// Removes secrets from provider texts: the exact secrets the executor holds, then the core's patterns.
package struct Redactor: Sendable {
    private let secrets: [String]

    package init(secrets: [String?]) {
        // Secrets shorter than 4 characters would redact ordinary words; none of a real provider's are.
        self.secrets = secrets.compactMap { $0 }.filter { $0.count >= 4 }
    }

    /// The text with every known secret and anything secret-looking replaced, cut to `limit` characters.
    package func redact(_ text: String, limit: Int = 500) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: SecretRedactor.placeholder)
        }
        result = SecretRedactor.redact(result)
        if result.count > limit { result = String(result.prefix(limit)) + "…" }
        return result
    }
}
