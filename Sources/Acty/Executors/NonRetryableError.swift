/// Wraps an error that retrying cannot fix, so the job fails at once even with attempts left.
///
/// ```swift
/// guard let prompt = job.payload["prompt"]?.stringValue else {
///     throw NonRetryableError("the payload has no prompt")
/// }
/// ```
///
/// For errors you do not throw yourself, ``EngineConfiguration/isRetryable`` decides.
public struct NonRetryableError: Error, Sendable, CustomStringConvertible {
    /// The error that made the attempt fail.
    public let underlying: any Error

    /// Marks an error as not worth retrying.
    public init(_ underlying: any Error) {
        self.underlying = underlying
    }

    /// A non-retryable failure with a message.
    public init(_ message: String) {
        self.underlying = JobError(type: "NonRetryableError", message: message)
    }

    public var description: String { String(describing: underlying) }
}
