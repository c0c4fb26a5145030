/// Looks at what an executor returned and decides what becomes of it: accept it, replace it, fail the job, or run
/// the job again with a new payload.
///
/// A handler runs in the worker right after an executor returns an output; it is not called when the executor
/// throws or times out. Handlers are found by ``name``, like executors: a group stores the name of its handler (the
/// engine's ``EngineConfiguration/resultHandler``, or the one given in ``GroupOptions/resultHandler``), and an engine
/// claims that group's jobs only if it has a handler of that name. Give differently configured handlers different
/// names.
///
/// ```swift
/// struct RequireVerdict: ResultHandler {
///     func handle(output: JSONValue, of job: Job) async throws -> ResultAction {
///         if output["verdict"] != nil { return .accept }
///         var payload = job.payload.objectValue ?? [:]
///         payload["hint"] = "answer with a verdict"
///         return .resubmit(.object(payload), reason: "no verdict in the answer")
///     }
/// }
/// ```
///
/// A resubmit is a new attempt of the same job, recorded in the `attempts` table with its reason and payload: the
/// payload is stored before the next attempt, so a restart resumes with it. It does not use up the retry policy's
/// attempts, but ``EngineConfiguration/maxResultHandlerAttempts`` bounds the resubmits of each job. A handler that
/// throws fails the job with its error, or passes the output through (see ``ResultHandlerErrorPolicy``).
public protocol ResultHandler: Sendable {
    /// The name groups store to find this handler; the default is the type's name.
    var name: String { get }

    /// Decides what becomes of an attempt's output.
    ///
    /// - Parameters:
    ///   - output: what the executor returned.
    ///   - job: the attempt that produced it, with the payload it ran with.
    /// - Returns: what to do with the output.
    func handle(output: JSONValue, of job: Job) async throws -> ResultAction
}

extension ResultHandler {
    /// The type's name, such as `JSONRepairHandler`.
    public var name: String { String(describing: Self.self) }
}

/// What a ``ResultHandler`` decided about an output.
public enum ResultAction: Sendable, Hashable {
    /// The output stands: the job succeeds with it.
    case accept
    /// The job succeeds with this output instead (a parsed or cleaned-up version of it, say).
    case replace(JSONValue)
    /// The job runs again with this payload; `reason` is recorded with the attempt and in `job_resubmitted`.
    case resubmit(JSONValue, reason: String)
    /// The job fails with this error, without another attempt.
    case fail(JobError)
}

/// What happens to a job when its result handler throws.
public enum ResultHandlerErrorPolicy: String, Sendable, Hashable, CaseIterable {
    /// The job fails with the handler's error, without another attempt. The default.
    case fail
    /// The output is accepted as the executor returned it; the handler's error is recorded in
    /// `job_result_handler_failed`.
    case passThrough = "pass_through"
}
