import Acty
import ActyStore
import ArgumentParser
import Foundation
import Logging

/// Runs an engine on the database until every job in it is terminal, then shuts down and exits 0.
///
/// Output, written unbuffered so that a killed process keeps what it said:
/// - stdout: `engine worker=<id> pid=<pid> init_ms=<ms>` once the engine runs, `done executions=<n>` at the end;
/// - stderr: the engine's log (info and above), where a `database is locked` failure would show;
/// - the execution log (`--log`): one line per executor run, see ``ExecutionLog``.
///
/// Exit status 0 when all jobs ended, 2 when `--timeout` passed first.
struct Work: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Runs the 'crash' executor on the database until every job is terminal.",
        discussion: "Example: acty-test-worker work --database /tmp/t/acty.db --log /tmp/t/executions.log"
    )

    /// The executor every job of these tests runs on.
    static let executorName = "crash"

    @Option(help: "The database file.") var database: String
    @Option(help: "The append-only execution log: one 'jobID attempt pid unixTime' line per executor run.") var log: String
    @Option(help: "Primer pool size.") var primerWorkers = 2
    @Option(help: "Follower pool size.") var followerWorkers = 4
    @Option(help: "Lease duration in milliseconds.") var leaseMs = 1000
    @Option(help: "Poll interval in milliseconds.") var pollMs = 20
    @Option(help: "Shortest executor run in milliseconds.") var minSleepMs = 1
    @Option(help: "Longest executor run in milliseconds.") var maxSleepMs = 10
    @Option(help: "Hold every executor run until this many engine processes are registered and running.") var awaitPeers = 0
    @Option(help: "Give up (exit status 2) after this many seconds.") var timeout = 60.0
    @Flag(help: "fsync the execution log after every line (only matters for power loss, not for SIGKILL).") var fsyncLog = false
    @Flag(help: "Run with EngineConfiguration's defaults but for the pool sizes (ignores --lease-ms and --poll-ms).")
    var defaultConfiguration = false
    @Option(help: "The share of executor runs that throw a retryable error, from 0 to 1.") var failureRate = 0.0
    @Option(help: "EngineConfiguration.maxActiveGroups: at most this many groups active at once.") var maxActiveGroups: Int?
    @Option(help: "A rate limit on the executor: jobs started per minute, by every engine on the file together.") var requestsPerMinute: Double?
    @Option(help: "The rate limit's burst: jobs that may start at once.") var rateBurst: Int?

    func validate() throws {
        guard minSleepMs >= 0, maxSleepMs >= minSleepMs else {
            throw ValidationError("use 0 <= --min-sleep-ms <= --max-sleep-ms")
        }
        guard leaseMs > 0, pollMs > 0, timeout > 0 else {
            throw ValidationError("--lease-ms, --poll-ms and --timeout must be positive")
        }
        guard (0...1).contains(failureRate) else {
            throw ValidationError("--failure-rate must be between 0 and 1, not \(failureRate)")
        }
    }

    func run() async throws {
        let pid = getpid()
        let executions = try ExecutionLog(path: log, fsync: fsyncLog)
        let state = RunState(peersReady: awaitPeers <= 1)
        let (minSleep, maxSleep, failureRate) = (minSleepMs, maxSleepMs, failureRate)
        let executor = ClosureExecutor(name: Self.executorName) { job in
            if !state.peersReady {
                let deadline = ContinuousClock.now + .seconds(20)
                while !state.peersReady, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            }
            executions.record(job: job.id.rawValue, attempt: job.attempt)
            state.countExecution()
            // A poison pill: the job crashes the process running it, every time.
            if job.payload["poison"] == true { kill(getpid(), SIGKILL) }
            if maxSleep > 0 { try await Task.sleep(for: .milliseconds(Int.random(in: minSleep...maxSleep))) }
            if failureRate > 0, Double.random(in: 0..<1) < failureRate { throw PlannedFailure(attempt: job.attempt) }
            return job.payload
        }
        var logger = Logger(label: "acty-test-worker") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .info
        let started = ContinuousClock.now
        var configuration =
            defaultConfiguration
            ? EngineConfiguration(primerWorkers: primerWorkers, followerWorkers: followerWorkers, logger: logger)
            : EngineConfiguration(
                primerWorkers: primerWorkers, followerWorkers: followerWorkers, leaseDuration: .milliseconds(leaseMs),
                gracefulShutdownTimeout: .seconds(10), pollInterval: .milliseconds(pollMs), logger: logger
            )
        configuration.maxActiveGroups = maxActiveGroups
        if let requestsPerMinute {
            configuration.rateLimits = [RateLimit(executor: Self.executorName, requestsPerMinute: requestsPerMinute, burst: rateBurst)]
        }
        let engine = try await ActyEngine(database: .file(database), configuration: configuration, executors: [executor])
        say("engine worker=\(engine.workerID) pid=\(pid) init_ms=\(Self.milliseconds(ContinuousClock.now - started))")

        // A second connection watches the file: the engine reports on the jobs it submitted, and these it did not.
        let monitor = try Store(.file(database))
        let deadline = ContinuousClock.now + .seconds(timeout)
        var finished = false
        while ContinuousClock.now < deadline {
            // A group finishes once all its jobs are terminal.
            if try await monitor.allGroupsFinished() {
                finished = true
                break
            }
            if !state.peersReady, try await monitor.activeWorkers().count >= awaitPeers {
                state.peersReady = true
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await monitor.close()
        try await engine.shutdown()
        say("done executions=\(state.executions) finished=\(finished)")
        if !finished {
            complain("gave up after \(timeout) s: some jobs are not terminal")
            throw ExitCode(2)
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// The error of an executor run that `--failure-rate` picked to fail.
struct PlannedFailure: Error, CustomStringConvertible {
    var attempt: Int
    var description: String { "attempt \(attempt) failed as planned" }
}

/// What the executor runs and the monitoring loop share.
private final class RunState: Sendable {
    private let state: Locked<(peersReady: Bool, executions: Int)>

    init(peersReady: Bool) { state = Locked((peersReady, 0)) }

    /// Whether enough engine processes are registered for executor runs to start.
    var peersReady: Bool {
        get { state.withLock { $0.peersReady } }
        set { state.withLock { $0.peersReady = newValue } }
    }

    /// Executor runs so far.
    var executions: Int { state.withLock { $0.executions } }

    func countExecution() { state.withLock { $0.executions += 1 } }
}
