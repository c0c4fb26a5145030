import ActyCore

/// Why a ``ProcessExecutor`` attempt failed on the executor's side (not the worker's answer): the worker could not
/// start, died, answered something that is not a response, or ran out of time.
///
/// Every one of these fails the attempt retryably, and the worker involved is replaced by a fresh one for the next
/// job. The description carries the worker's last standard-error lines, secrets redacted.
public struct ProcessExecutorError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure it was.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case spawnFailed = "spawn failed"
            case workerExited = "worker exited"
            case malformedResponse = "malformed response"
            case unexpectedResponse = "unexpected response"
            case timedOut = "timed out"
            case shutDown = "shut down"
        }

        private let value: Value

        /// The worker program could not be started.
        public static let spawnFailed = Code(value: .spawnFailed)
        /// The worker exited (crashed, was killed, or closed its standard output) before answering.
        public static let workerExited = Code(value: .workerExited)
        /// The worker wrote a line that is not a JSON response object.
        public static let malformedResponse = Code(value: .malformedResponse)
        /// The worker answered with another request's id.
        public static let unexpectedResponse = Code(value: .unexpectedResponse)
        /// The request took longer than ``ProcessExecutorConfiguration/requestTimeout``; the worker was killed.
        public static let timedOut = Code(value: .timedOut)
        /// The executor was shut down.
        public static let shutDown = Code(value: .shutDown)

        public var description: String { value.rawValue }
    }

    /// What kind of failure it was.
    public let code: Code
    /// What went wrong, in a sentence.
    public let message: String
    /// The worker's process id, when one was involved.
    public let pid: Int32?
    /// The worker's last standard-error lines, oldest first, secrets redacted.
    public let standardError: [String]

    init(_ code: Code, _ message: String, pid: Int32? = nil, standardError: [String] = []) {
        self.code = code
        self.message = message
        self.pid = pid
        self.standardError = standardError.map(SecretRedactor.redact)
    }

    /// `<code>: <message>`, then the worker's last standard-error lines.
    public var description: String {
        var text = "\(code): \(message)"
        if !standardError.isEmpty {
            text += "; its last standard error lines:\n" + standardError.joined(separator: "\n")
        }
        return text
    }
}
