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
    /// When the group's followers may start; the engine's ``EngineConfiguration/followersStart`` when `nil`.
    public var followersStart: FollowersStart?
    /// The most followers of the group released and unfinished at once; the engine's
    /// ``EngineConfiguration/maxFollowersInflight`` when `nil`.
    public var maxFollowersInflight: Int?

    /// Creates options; every `nil` takes the engine's setting.
    public init(
        primerFailurePolicy: PrimerFailurePolicy? = nil,
        followerFailurePolicy: FollowerFailurePolicy? = nil,
        retryPolicy: RetryPolicy? = nil,
        jobTimeout: Duration? = nil,
        resultHandler: (any ResultHandler)? = nil,
        followersStart: FollowersStart? = nil,
        maxFollowersInflight: Int? = nil
    ) {
        self.primerFailurePolicy = primerFailurePolicy
        self.followerFailurePolicy = followerFailurePolicy
        self.retryPolicy = retryPolicy
        self.jobTimeout = jobTimeout
        self.resultHandler = resultHandler
        self.followersStart = followersStart
        self.maxFollowersInflight = maxFollowersInflight
    }
}

/// When a group's followers may start.
///
/// A follower never starts before its primer succeeded (unless the primer failed under
/// ``PrimerFailurePolicy/runFollowers``); this adds a wait for what the primer prepared to take effect, such as a
/// provider's prompt cache warming, measured from the primer's start, as Python acty's `AFTER_WARMUP` mode does.
public enum FollowersStart: Sendable, Hashable {
    /// As soon as the primer succeeded.
    case afterPrimer
    /// Once the primer succeeded and `delay` has passed since it started. Followers whose time has not come wait
    /// `scheduled` in the database, holding no worker; the wait survives restarts.
    case afterWarmup(Duration)

    /// The warm-up in seconds, `nil` for none.
    var warmupSeconds: Double? {
        if case .afterWarmup(let delay) = self { return delay.seconds }
        return nil
    }

    func validate() throws {
        if case .afterWarmup(let delay) = self, !(delay >= .zero) || !delay.seconds.isFinite {
            throw ActyError(.invalidArgument, "a follower warm-up must be a finite duration of 0 or more, not \(delay)")
        }
    }
}
