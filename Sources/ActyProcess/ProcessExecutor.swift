public import Acty
import ActyCore

/// Runs jobs in a pool of long-lived worker processes that speak JSON lines: a Python script, a Node program, any
/// command that reads one request line on standard input and writes one response line on standard output.
///
/// `Python/acty_bridge.py` is the worker side for Python (standard library only): `acty_bridge.serve(handler)` calls
/// `handler(job)` for each request. The protocol, one line each way:
///
/// - request: `{"id": 7, "job": {"id", "group_key", "role", "follower_index", "lane", "attempt", "payload",
///   "group_context", "cache": {"key", "provider_ref"}, "primer": {"payload", "output"}}}` (`primer` only with
///   ``ProcessExecutorConfiguration/sendsPrimer``, for followers);
/// - response: `{"id": 7, "ok": true, "output": …, "usage": {"prompt_tokens", "completion_tokens",
///   "cached_prompt_tokens"}}` or `{"id": 7, "ok": false, "error": {"type", "message"}, "retryable": bool,
///   "retry_after": seconds}`.
///
/// Usage is recorded on the attempt (``Acty/Job/recordUsage(_:)``). An error response fails the attempt with the
/// worker's error type and message; `"retryable": false` fails the job at once (``NonRetryableError``), and
/// `retry_after` retries no sooner than that (``RetryAfterError``). A worker that crashes, exits, writes a line that
/// is not a response or answers another request's id fails its attempt retryably with a ``ProcessExecutorError``
/// carrying its last standard-error lines, and is replaced by a fresh process for the next job. A request past
/// ``ProcessExecutorConfiguration/requestTimeout``, or whose task is cancelled (the engine's job timeout, a
/// cancelled job), kills its worker: `SIGTERM`, then `SIGKILL` after the grace period.
///
/// Call ``shutdown()`` after the engine's shutdown to stop the workers and wait for them; an executor that is
/// dropped without it stops them too (they also exit on their own when this process dies, as their standard input
/// ends).
///
/// ```swift
/// let bridge = ProcessExecutor(
///     ProcessExecutorConfiguration(name: "langchain", command: "python3", arguments: ["runnable_worker.py"], poolSize: 4)
/// )
/// let engine = try await ActyEngine(database: .file(path), executors: [bridge])
/// // … submit groups to executor "langchain" …
/// try await engine.shutdown()
/// await bridge.shutdown()
/// ```
public final class ProcessExecutor: Executor {
    /// The executor's name.
    public let name: String
    /// How the workers are started and talked to.
    public let configuration: ProcessExecutorConfiguration
    private let pool: WorkerPool
    private let requestIDs = Locked<UInt64>(0)

    /// Creates an executor; no process starts until the first job.
    public init(_ configuration: ProcessExecutorConfiguration) {
        self.name = configuration.name
        self.configuration = configuration
        self.pool = WorkerPool(configuration)
    }

    deinit {
        pool.stopAll()
    }

    /// The process ids of the running workers, in ascending order.
    public var workerProcessIDs: [Int32] { pool.processIDs }

    /// Sends the job to a worker and returns the output it answers.
    ///
    /// - Throws: the worker's error (as a `JobError`, wrapped in ``NonRetryableError`` or ``RetryAfterError`` as the
    ///   response says), a ``ProcessExecutorError`` when the worker failed, or `CancellationError`.
    public func execute(_ job: Job) async throws -> JSONValue {
        let primer = configuration.sendsPrimer && job.role == .follower ? try await job.primer() : nil
        let id = requestIDs.withLock { id in
            id += 1
            return id
        }
        let request = BridgeProtocol.request(id: id, job: job, primer: primer, sendsPrimer: configuration.sendsPrimer)
        let worker = try await pool.acquire()
        let response: BridgeProtocol.Response
        do {
            let line = try await worker.exchange(request, timeout: configuration.requestTimeout)
            do {
                response = try BridgeProtocol.response(line, expecting: id)
            } catch {
                throw worker.failure(error.code, error.message)
            }
        } catch {
            pool.release(worker, reusable: false)
            throw error
        }
        pool.release(worker, reusable: true)
        if let usage = response.usage { job.recordUsage(usage) }
        switch response.outcome {
        case .succeeded(let output):
            return output
        case .failed(let error, let retryable, let retryAfter, let rateLimited):
            if !retryable { throw NonRetryableError(error) }
            if let retryAfter { throw RetryAfterError(error, after: retryAfter, isRateLimit: rateLimited) }
            throw error
        }
    }

    /// Stops every worker and waits until they have exited: standard input closed (a bridge worker exits then),
    /// `SIGTERM` after ``ProcessExecutorConfiguration/terminationGrace``, `SIGKILL` after another. Requests still
    /// running fail; later ones fail with ``ProcessExecutorError/Code/shutDown``. Call it after the engine's
    /// `shutdown()`.
    public func shutdown() async {
        await pool.shutdown()
    }
}
