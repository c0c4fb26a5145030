/// Wraps an error whose next attempt must wait: a provider's `Retry-After`, say.
///
/// The attempt fails and, while attempts are left, the job waits in `scheduled`, holding no worker, until `delay`
/// from now: the delay replaces the retry policy's backoff for this attempt.
///
/// ```swift
/// if response.status == .tooManyRequests {
///     throw RetryAfterError(ProviderError(response), after: .seconds(retryAfter), isRateLimit: true)
/// }
/// ```
///
/// `isRateLimit` marks the provider refusing for load (HTTP 429): the engine's rate limiter for that executor then
/// lowers its budget for a while, so other jobs do not run into the same refusal.
public struct RetryAfterError: Error, Sendable, CustomStringConvertible {
    /// The error that made the attempt fail.
    public let underlying: any Error
    /// How long the next attempt waits at least.
    public let delay: Duration
    /// Whether the provider refused for load (a 429).
    public let isRateLimit: Bool

    /// Marks an error as retryable no sooner than `delay` from now.
    public init(_ underlying: any Error, after delay: Duration, isRateLimit: Bool = false) {
        self.underlying = underlying
        self.delay = delay
        self.isRateLimit = isRateLimit
    }

    public var description: String { String(describing: underlying) }
}
