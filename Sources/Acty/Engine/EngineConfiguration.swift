public import CoreMetrics
public import Logging
public import Tracing

/// Settings of an ``ActyEngine``: pool sizes, lanes, failure policies and durability.
///
/// Every setting has a default, so `EngineConfiguration()` runs a small engine with one lane.
public struct EngineConfiguration: Sendable {
    /// Workers that run primers; they take followers only when no primer is ready and ``workStealing`` is on.
    /// The default is 2.
    public var primerWorkers: Int
    /// Workers that run followers; they take primers only when no follower is ready and ``workStealing`` is on.
    /// The default is 8.
    public var followerWorkers: Int
    /// Lanes with their weights and caps. Lanes not listed get ``defaultLane`` when first used. The default is
    /// none: every group uses the lane `default`.
    public var lanes: [String: LaneConfiguration]
    /// The settings a lane gets when a group first uses it without it being listed in ``lanes``. Weight 1, no cap.
    public var defaultLane: LaneConfiguration
    /// Whether a submission may name only known lanes: `default`, those in ``lanes``, and those that exist in the
    /// database (created by another process or by ``ActyEngine/setLane(_:_:)``). With `true`, any other lane is
    /// refused with ``ActyError/Code/unknownLane``, listing the known ones; with `false`, the default, it is created
    /// with ``defaultLane`` and a warning is logged once per name, since an unknown lane is most likely a typo.
    public var strictLanes: Bool
    /// Whether an idle pool takes the other pool's work once its own is exhausted. The default is `true`.
    public var workStealing: Bool
    /// How many groups may be active at once, across every engine on the database file; `nil`, the default, for no
    /// limit. A group is active from its admission until it is finished (an open group until it is closed and done).
    /// A group submitted past the cap is stored with its jobs held, and admitted in the order of submission when a
    /// slot frees; a group waiting for a dependency holds no slot. Engines sharing a file should be configured alike:
    /// each applies its own cap to the admissions it makes.
    public var maxActiveGroups: Int?
    /// Slots added to ``maxActiveGroups`` while fewer jobs are ready than the live engines on the file have
    /// workers. The default is 0. Each claim that finds groups waiting decides it: the changes are recorded as `burst_on`,
    /// `burst_off` and `cap_changed` events. Groups admitted during a burst keep their slot when it ends.
    public var burstAllowance: Int
    /// What a failed primer does to its group (a group can override it). The default fails the group.
    public var primerFailurePolicy: PrimerFailurePolicy
    /// What a failed follower does to its group (a group can override it). The default fails the group.
    public var followerFailurePolicy: FollowerFailurePolicy
    /// What a commit survives. The default is ``Durability/process``.
    public var durability: Durability
    /// How often a failed job is tried again and how long it waits in between (a group can override it). The
    /// default, ``RetryPolicy/none``, fails a job on its first failed attempt, as Python acty does.
    public var retryPolicy: RetryPolicy
    /// How many times a job's attempt may be abandoned, because the process running it died (SIGKILL, a crash, a
    /// lost machine) and another process rescued the job, before the job fails instead of running again. The default
    /// is 3.
    ///
    /// An abandoned attempt is not the job's failure: it does not use up ``retryPolicy``'s attempts, so a crashed run
    /// that is resumed finishes its jobs. This bound stops a job that crashes its process each time (a "poison pill")
    /// from being run forever: the rescue that abandons it for the `maxAbandonedAttempts`-th time fails it with error
    /// type `abandoned`, and its group's failure policy applies. The bound is stored with each job when it is
    /// submitted, like its retry budget, so whichever process rescues the job applies the submitter's bound.
    /// ``Job/attempt`` counts every attempt, abandoned ones included.
    public var maxAbandonedAttempts: Int
    /// How long one attempt may run before its executor task is cancelled and the attempt recorded `timed_out`
    /// (a group can override it); `nil`, the default, for no limit.
    public var jobTimeout: Duration?
    /// When a group's followers may start (a group can override it); the default, ``FollowersStart/afterPrimer``,
    /// starts them as soon as the primer succeeded.
    public var followersStart: FollowersStart = .afterPrimer
    /// The most followers of one group released and unfinished at once (a group can override it): 1 runs a group's
    /// followers one after the other, in order. `nil`, the default, releases them all when the primer succeeded.
    public var maxFollowersInflight: Int? = nil
    /// Decides whether an error an executor threw is worth another attempt. ``NonRetryableError`` and cancellation
    /// are never retried, whatever this says. The default retries every other error.
    public var isRetryable: @Sendable (any Error) -> Bool
    /// How long a claimed job stays leased to this process before another process may rescue it. The engine renews
    /// the leases of its running jobs every third of this. 30 s.
    public var leaseDuration: Duration
    /// How long `shutdown()` lets running jobs finish before it cancels them and hands them back to the queue
    /// without using up an attempt. 30 s.
    public var gracefulShutdownTimeout: Duration
    /// How often an idle engine looks for work written by other processes. 100 ms.
    public var pollInterval: Duration
    /// How long a write waits for another process's write lock before failing. 10 s.
    public var busyTimeout: Duration
    /// How long a cache entry stays valid after it was created; `nil`, the default, for no limit.
    public var cacheTimeToLive: Duration?
    /// Whether a group's primer runs when its cache entry is already ready. With `false` (Python acty's
    /// `run_primer_on_cache_hit=False`) the primer is skipped and the followers start at once on the existing
    /// entry: a closed group's ``GroupSubmission/primer`` is then `nil`, and an open group's
    /// ``OpenGroup/submitPrimer(_:maxAttempts:)`` returns a handle whose result is `succeeded` with 0 attempts and
    /// the output `{"skipped": "cache_hit", "cache_key": …}`. The default is `true`.
    public var runPrimerOnCacheHit: Bool
    /// The result handler that looks at the outputs of every group's jobs, unless a group names its own in
    /// ``GroupOptions/resultHandler``; `nil`, the default, for none. A group stores its handler's name, and only
    /// engines that have a handler of that name claim its jobs.
    public var resultHandler: (any ResultHandler)?
    /// More result handlers this engine has, for groups that name them in ``GroupOptions/resultHandler``: also
    /// groups submitted by another process, or before a restart, which this engine would otherwise not claim. None by
    /// default.
    public var additionalResultHandlers: [any ResultHandler]
    /// How many times a result handler may resubmit each job (Python acty's `max_result_handler_attempts`): the
    /// next resubmit the handler asks for fails the job with error type `ResultHandlerFailed`. Stored with each group
    /// when it is submitted. Resubmits do not use up ``retryPolicy``'s attempts. The default is 1, as in Python acty.
    public var maxResultHandlerAttempts: Int
    /// What a result handler that throws does to its job. The default, ``ResultHandlerErrorPolicy/fail``, fails the
    /// job with the handler's error.
    public var resultHandlerErrorPolicy: ResultHandlerErrorPolicy
    /// Whether a result handler that throws is called again before the error policy applies. The default,
    /// ``ResultHandlerRetry/jobRetryPolicy``, allows as many calls as the job's retry policy allows attempts.
    public var resultHandlerRetry: ResultHandlerRetry
    /// Budgets for executors' jobs: requests and tokens per minute, jobs at once (see ``RateLimit``). Shared by every
    /// engine on the file; an engine's configuration sets the budgets of the executors it registers (removing those it
    /// no longer configures). None by default.
    public var rateLimits: [RateLimit]
    /// Receivers of every committed event, in commit order, such as a ``JSONLEventSink``. None by default.
    public var eventSinks: [any EventSink]
    /// Where the engine logs; lifecycle details go to `debug`. The default logs nothing.
    public var logger: Logger
    /// Where the engine's metrics go (README.md lists them); `nil`, the default, for the factory bootstrapped with
    /// swift-metrics' `MetricsSystem.bootstrap`. With swift-metrics' no-op factory (nothing bootstrapped) the engine
    /// records nothing, at no cost.
    public var metricsFactory: (any MetricsFactory)?
    /// The tracer of the spans of every attempt (README.md describes them); `nil`, the default, for the one
    /// bootstrapped with `InstrumentationSystem.bootstrap`. With the no-op tracer the engine starts no span and stores
    /// no trace context.
    public var tracer: (any Tracer)?
    /// Whether the engine also starts a span `acty.batch` for every committed write batch (its requests, the
    /// completions it recorded, the jobs it claimed and finished, and how long `BEGIN` to `COMMIT` took), with the
    /// ``tracer``. Off by default: a busy engine commits hundreds of batches a second, each a trace of its own.
    public var tracesWriteBatches: Bool = false
    /// How often the engine reads the queue gauges (`acty_queue_depth`, `acty_jobs_in_flight`) from the database,
    /// when metrics are recorded. 1 s.
    public var queueMetricsInterval: Duration

    /// Creates a configuration; every parameter has the default documented on its property.
    public init(
        primerWorkers: Int = 2,
        followerWorkers: Int = 8,
        lanes: [String: LaneConfiguration] = [:],
        defaultLane: LaneConfiguration = LaneConfiguration(),
        strictLanes: Bool = false,
        workStealing: Bool = true,
        maxActiveGroups: Int? = nil,
        burstAllowance: Int = 0,
        primerFailurePolicy: PrimerFailurePolicy = .failGroup,
        followerFailurePolicy: FollowerFailurePolicy = .failGroup,
        durability: Durability = .process,
        retryPolicy: RetryPolicy = .none,
        jobTimeout: Duration? = nil,
        maxAbandonedAttempts: Int = 3,
        isRetryable: @escaping @Sendable (any Error) -> Bool = { _ in true },
        leaseDuration: Duration = .seconds(30),
        gracefulShutdownTimeout: Duration = .seconds(30),
        pollInterval: Duration = .milliseconds(100),
        busyTimeout: Duration = .seconds(10),
        cacheTimeToLive: Duration? = nil,
        runPrimerOnCacheHit: Bool = true,
        resultHandler: (any ResultHandler)? = nil,
        additionalResultHandlers: [any ResultHandler] = [],
        maxResultHandlerAttempts: Int = 1,
        resultHandlerErrorPolicy: ResultHandlerErrorPolicy = .fail,
        resultHandlerRetry: ResultHandlerRetry = .jobRetryPolicy,
        rateLimits: [RateLimit] = [],
        eventSinks: [any EventSink] = [],
        logger: Logger = Logger(label: "acty", factory: { _ in SwiftLogNoOpLogHandler() }),
        metricsFactory: (any MetricsFactory)? = nil,
        tracer: (any Tracer)? = nil,
        queueMetricsInterval: Duration = .seconds(1)
    ) {
        self.primerWorkers = primerWorkers
        self.followerWorkers = followerWorkers
        self.lanes = lanes
        self.defaultLane = defaultLane
        self.strictLanes = strictLanes
        self.workStealing = workStealing
        self.maxActiveGroups = maxActiveGroups
        self.burstAllowance = burstAllowance
        self.primerFailurePolicy = primerFailurePolicy
        self.followerFailurePolicy = followerFailurePolicy
        self.durability = durability
        self.retryPolicy = retryPolicy
        self.jobTimeout = jobTimeout
        self.maxAbandonedAttempts = maxAbandonedAttempts
        self.isRetryable = isRetryable
        self.leaseDuration = leaseDuration
        self.gracefulShutdownTimeout = gracefulShutdownTimeout
        self.pollInterval = pollInterval
        self.busyTimeout = busyTimeout
        self.cacheTimeToLive = cacheTimeToLive
        self.runPrimerOnCacheHit = runPrimerOnCacheHit
        self.resultHandler = resultHandler
        self.additionalResultHandlers = additionalResultHandlers
        self.maxResultHandlerAttempts = maxResultHandlerAttempts
        self.resultHandlerErrorPolicy = resultHandlerErrorPolicy
        self.resultHandlerRetry = resultHandlerRetry
        self.rateLimits = rateLimits
        self.eventSinks = eventSinks
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.tracer = tracer
        self.queueMetricsInterval = queueMetricsInterval
    }

    /// Checks every setting and says what is wrong.
    func validate() throws {
        guard primerWorkers >= 0, followerWorkers >= 0, primerWorkers + followerWorkers > 0 else {
            throw ActyError(.invalidArgument, "primerWorkers and followerWorkers must not be negative, and at least one worker is needed")
        }
        guard workStealing || (primerWorkers > 0 && followerWorkers > 0) else {
            throw ActyError(.invalidArgument, "with workStealing off, both pools need at least one worker or some jobs could never run")
        }
        for (name, lane) in lanes {
            try LaneConfiguration.validateName(name)
            try lane.validate(name: name)
        }
        var limited = Set<String>()
        for limit in rateLimits {
            if let problem = limit.problem { throw ActyError(.invalidArgument, problem) }
            if let lane = limit.lane { try LaneConfiguration.validateName(lane) }
            guard limited.insert("\(limit.executor)\u{0}\(limit.lane ?? "")").inserted else {
                throw ActyError(.invalidArgument, "two rate limits for executor '\(limit.executor)' in \(limit.lane.map { "lane '\($0)'" } ?? "every lane")")
            }
        }
        try defaultLane.validate(name: "defaultLane")
        guard queueMetricsInterval > .zero else {
            throw ActyError(.invalidArgument, "queueMetricsInterval must be positive")
        }
        guard leaseDuration > .zero, pollInterval > .zero, busyTimeout >= .zero, gracefulShutdownTimeout >= .zero else {
            throw ActyError(
                .invalidArgument,
                "leaseDuration and pollInterval must be positive; busyTimeout and gracefulShutdownTimeout must not be negative"
            )
        }
        try retryPolicy.validate()
        guard maxAbandonedAttempts >= 1 else {
            throw ActyError(
                .invalidArgument, "maxAbandonedAttempts must be at least 1 (1 fails a job the first time its process dies), not \(maxAbandonedAttempts)"
            )
        }
        guard maxResultHandlerAttempts >= 0 else {
            throw ActyError(
                .invalidArgument, "maxResultHandlerAttempts must not be negative (0 lets no job be resubmitted), not \(maxResultHandlerAttempts)"
            )
        }
        if let maxActiveGroups, maxActiveGroups < 1 {
            throw ActyError(.invalidArgument, "maxActiveGroups must be at least 1, or nil for no limit, not \(maxActiveGroups)")
        }
        guard burstAllowance >= 0 else {
            throw ActyError(.invalidArgument, "burstAllowance must not be negative, not \(burstAllowance)")
        }
        if let cacheTimeToLive, cacheTimeToLive <= .zero {
            throw ActyError(.invalidArgument, "cacheTimeToLive must be positive, or nil for no limit")
        }
        try followersStart.validate()
        if let maxFollowersInflight, maxFollowersInflight < 1 {
            throw ActyError(.invalidArgument, "maxFollowersInflight must be at least 1, or nil for no cap")
        }
        if let jobTimeout, jobTimeout <= .zero {
            throw ActyError(.invalidArgument, "jobTimeout must be positive, or nil for no limit")
        }
    }
}

/// A lane's share of the workers.
public struct LaneConfiguration: Sendable, Hashable {
    /// The lane's relative share: a lane of weight 2 gets about twice the workers of a lane of weight 1 while both
    /// have work. Idle lanes' shares go to the others. The default is 1.
    public var weight: Double
    /// The most jobs of the lane that may run at once, across all processes on the database; `nil` (the default)
    /// for no cap.
    public var maxInflight: Int?

    /// Creates a lane configuration.
    public init(weight: Double = 1, maxInflight: Int? = nil) {
        self.weight = weight
        self.maxInflight = maxInflight
    }

    func validate(name: String) throws {
        guard weight.isFinite, weight > 0 else {
            throw ActyError(.invalidArgument, "lane '\(name)' has weight \(weight): a weight must be a finite number greater than 0")
        }
        if let maxInflight, maxInflight <= 0 {
            throw ActyError(.invalidArgument, "lane '\(name)' has maxInflight \(maxInflight): use a positive number, or nil for no cap")
        }
    }

    static func validateName(_ name: String) throws {
        guard !name.isEmpty, name.count <= 200, !name.contains(where: \.isNewline) else {
            throw ActyError(.invalidArgument, "lane name '\(name)' is not valid: use 1 to 200 characters without line breaks")
        }
    }
}
