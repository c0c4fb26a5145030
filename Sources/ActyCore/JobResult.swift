/// The final outcome of a job: what ``JobHandle/result()`` returns once the job is terminal.
public struct JobResult: Sendable, Hashable {
    /// How a job ended.
    public enum Status: String, Sendable, Hashable, CaseIterable, Codable {
        /// The executor returned an output.
        case succeeded
        /// The last attempt failed.
        case failed
        /// The job never ran to the end: its group failed first, or it was cancelled.
        case cancelled

        /// The status of a job in a terminal state; a job that has not finished reads as failed.
        package init(_ state: JobState) {
            switch state {
            case .succeeded: self = .succeeded
            case .cancelled: self = .cancelled
            default: self = .failed
            }
        }
    }

    /// The job's id.
    public var jobID: JobID
    /// The key of the job's group.
    public var groupKey: String
    /// The job's role in its group.
    public var role: JobRole
    /// How the job ended.
    public var status: Status
    /// What the executor returned, for a succeeded job.
    public var output: JSONValue?
    /// Why the job failed or was cancelled.
    public var error: JobError?
    /// How many attempts were started, abandoned ones included (their rows in `attempts` say which).
    public var attempts: Int
    /// The seq of the event that recorded this outcome, for results read from ``ActyEngine/results(after:)``: pass
    /// the last one handled to `results(after:)` to go on from there after a restart. `nil` from a ``JobHandle``.
    public var eventSeq: Int64?

    /// Creates a result.
    public init(
        jobID: JobID,
        groupKey: String,
        role: JobRole,
        status: Status,
        output: JSONValue? = nil,
        error: JobError? = nil,
        attempts: Int,
        eventSeq: Int64? = nil
    ) {
        self.jobID = jobID
        self.groupKey = groupKey
        self.role = role
        self.status = status
        self.output = output
        self.error = error
        self.attempts = attempts
        self.eventSeq = eventSeq
    }
}

/// A recorded error: the kind of error and a human-readable message.
///
/// Stored in `jobs.error` and `attempts.error` as `{"type": …, "message": …}`, with secrets redacted.
public struct JobError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The error's kind: the Swift type name of a thrown error, or a fixed word such as `cancelled`.
    public var type: String
    /// What went wrong.
    public var message: String

    /// Creates an error record.
    public init(type: String, message: String) {
        self.type = type
        self.message = message
    }

    public var description: String { "\(type): \(message)" }
}
