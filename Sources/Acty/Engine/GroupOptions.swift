/// Settings of one group that override the engine's: failure policies, retries and the job timeout.
///
/// They are stored with the group, so every process that runs its jobs applies them, also after a restart.
///
/// ```swift
/// try await engine.submitGroup(
///     "nightly-eval", primer: plan, followers: cases,
///     options: GroupOptions(retryPolicy: RetryPolicy(maxAttempts: 4), jobTimeout: .seconds(120))
/// )
/// ```
public struct GroupOptions: Sendable {
    /// What a failed primer does to the group; the engine's when `nil`.
    public var primerFailurePolicy: PrimerFailurePolicy?
    /// What a failed follower does to the group; the engine's when `nil`.
    public var followerFailurePolicy: FollowerFailurePolicy?
    /// Retries of the group's jobs; the engine's when `nil`.
    public var retryPolicy: RetryPolicy?
    /// How long one attempt of the group's jobs may run; the engine's when `nil`.
    public var jobTimeout: Duration?
    /// The result handler that looks at the outputs of the group's jobs; the engine's
    /// ``EngineConfiguration/resultHandler`` when `nil`. The engine keeps it, by name, for as long as it runs, so it
    /// also claims other groups that name it; after a restart, list it in
    /// ``EngineConfiguration/additionalResultHandlers`` to resume such groups.
    public var resultHandler: (any ResultHandler)?

    /// Creates options; every `nil` takes the engine's setting.
    public init(
        primerFailurePolicy: PrimerFailurePolicy? = nil,
        followerFailurePolicy: FollowerFailurePolicy? = nil,
        retryPolicy: RetryPolicy? = nil,
        jobTimeout: Duration? = nil,
        resultHandler: (any ResultHandler)? = nil
    ) {
        self.primerFailurePolicy = primerFailurePolicy
        self.followerFailurePolicy = followerFailurePolicy
        self.retryPolicy = retryPolicy
        self.jobTimeout = jobTimeout
        self.resultHandler = resultHandler
    }
}
