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
    /// With a `delay`, the next attempt waits in `scheduled` that long, holding no worker (also across a restart);
    /// `context` says what the next attempts see of the group's context and cache handle.
    case resubmit(JSONValue, reason: String, delay: Duration = .zero, context: ResubmitContext = .keep)
    /// The job fails with this error, without another attempt.
    case fail(JobError)
}

/// What the attempts after a resubmit see of their group's context and cache handle: Python acty's
/// `context_policy` of `ResubmitJob`. It is stored with the job, so it holds for every later attempt (a retry, a
/// restart) until another resubmit sets it again.
public enum ResubmitContext: Sendable, Hashable {
    /// As before: the group's context and cache handle (Python's `inherit`).
    case keep
    /// No cache handle: `job.cache` is `nil`, so an executor does not reuse a session or prefix cache that may be
    /// what went wrong (`drop_cache`).
    case dropCache
    /// No group context: `job.groupContext` is `nil` (`drop_group`).
    case dropGroupContext
    /// Neither (`drop_all`).
    case dropAll
    /// This group context instead of the group's, with the cache handle kept (`override`).
    case replaceGroupContext(JSONValue)
}

/// Whether a result handler that throws is called again before its error counts: Python acty's
/// `result_handler_retry_policy`. Handler calls are retried in the worker, right away or after the policy's backoff;
/// each retry is logged (`result_handler_retry`). When the calls are used up, ``ResultHandlerErrorPolicy`` applies,
/// and `job_result_handler_failed` says how many calls were made.
public struct ResultHandlerRetry: Sendable {
    enum Source: Sendable {
        case disabled
        case jobRetryPolicy
        case policy(RetryPolicy)
    }

    let source: Source
    /// Decides instead of the error policy once the calls are used up (Python's `retry_error_callback`).
    let whenExhausted: (@Sendable (_ error: any Error, _ calls: Int) -> ResultAction)?

    /// One call: a throwing handler's error counts at once.
    public static let disabled = ResultHandlerRetry(source: .disabled, whenExhausted: nil)
    /// As many calls, with the same backoff, as the job's retry policy allows attempts (the engine's
    /// ``EngineConfiguration/retryPolicy``, or the group's): with the default policy, one call. The default.
    public static let jobRetryPolicy = ResultHandlerRetry(source: .jobRetryPolicy, whenExhausted: nil)

    /// Up to `policy.maxAttempts` calls with its backoff; `whenExhausted`, if given, decides what becomes of the output
    /// once they are used up (its action is applied as the handler's own), instead of the error policy.
    public static func policy(
        _ policy: RetryPolicy, whenExhausted: (@Sendable (_ error: any Error, _ calls: Int) -> ResultAction)? = nil
    ) -> ResultHandlerRetry {
        ResultHandlerRetry(source: .policy(policy), whenExhausted: whenExhausted)
    }

    /// The policy for a job whose own retry policy is `jobPolicy`.
    func policy(forJob jobPolicy: RetryPolicy) -> RetryPolicy {
        switch source {
        case .disabled: .none
        case .jobRetryPolicy: jobPolicy
        case .policy(let policy): policy
        }
    }
}

/// What happens to a job when its result handler throws.
public enum ResultHandlerErrorPolicy: String, Sendable, Hashable, CaseIterable {
    /// The job fails with the handler's error, without another attempt. The default.
    case fail
    /// The output is accepted as the executor returned it; the handler's error is recorded in
    /// `job_result_handler_failed`.
    case passThrough = "pass_through"
}
