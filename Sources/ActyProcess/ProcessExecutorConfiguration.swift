/// How a ``ProcessExecutor`` starts its worker processes and talks to them.
///
/// ```swift
/// var configuration = ProcessExecutorConfiguration(name: "langchain", command: "python3", arguments: ["worker.py"])
/// configuration.poolSize = 4
/// configuration.requestTimeout = .seconds(120)
/// let executor = ProcessExecutor(configuration)
/// ```
public struct ProcessExecutorConfiguration: Sendable {
    /// The executor's name, which jobs are submitted to.
    public var name: String
    /// The program to run: a path, or a name searched on this process's `PATH`.
    public var command: String
    /// The program's arguments (without the program itself).
    public var arguments: [String]
    /// The workers' whole environment; `nil` passes this process's environment on. Default `nil`.
    public var environment: [String: String]?
    /// The folder the workers start in; `nil` keeps this process's current folder. Default `nil`.
    public var workingDirectory: String?
    /// How many worker processes run at most; each answers one request at a time. They start when jobs first need
    /// them and are reused. Default 1.
    public var poolSize: Int
    /// How long one request may take before its worker is killed and the attempt fails (retryably); `nil` waits as
    /// long as the job may run (the engine's `jobTimeout` cancels the attempt, which also kills the worker).
    /// Default `nil`.
    public var requestTimeout: Duration?
    /// Whether a follower's request carries its group's primer (payload and, when it succeeded, output) as read by
    /// ``Acty/Job/primer()``. Costs a database read per follower. Default `false`.
    public var sendsPrimer: Bool
    /// How long a worker that should stop may take after `SIGTERM` (or, at shutdown, after its standard input
    /// closes) before it gets `SIGKILL`. Default 0.5 s.
    public var terminationGrace: Duration
    /// How many of a worker's last standard-error lines are kept for error messages. Default 20.
    public var standardErrorLines: Int
    /// The longest response line accepted; a longer one fails the attempt and replaces the worker. Default 64 MiB.
    public var maximumResponseBytes: Int

    /// Creates a configuration; see each property for its default.
    ///
    /// - Precondition: `poolSize` is at least 1.
    public init(
        name: String,
        command: String,
        arguments: [String] = [],
        environment: [String: String]? = nil,
        workingDirectory: String? = nil,
        poolSize: Int = 1,
        requestTimeout: Duration? = nil,
        sendsPrimer: Bool = false,
        terminationGrace: Duration = .milliseconds(500),
        standardErrorLines: Int = 20,
        maximumResponseBytes: Int = 64 << 20
    ) {
        precondition(poolSize >= 1, "a process executor needs at least one worker")
        self.name = name
        self.command = command
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.poolSize = poolSize
        self.requestTimeout = requestTimeout
        self.sendsPrimer = sendsPrimer
        self.terminationGrace = terminationGrace
        self.standardErrorLines = standardErrorLines
        self.maximumResponseBytes = maximumResponseBytes
    }
}
