import ActyStore
import CoreMetrics
import Foundation

/// The engine's metrics, through swift-metrics: handles are made once per label set and cached, counters are
/// incremented once per write batch, and nothing is recorded at all when the factory is swift-metrics' no-op one (no
/// backend bootstrapped and none given in ``EngineConfiguration/metricsFactory``).
///
/// Labels are bounded: lane, role, pool, executor and outcome; never a group key or a job id. README.md lists every
/// metric.
final class EngineMetrics: Sendable {
    /// Whether anything is recorded: `false` with the no-op factory, so an engine without a backend pays nothing.
    let isEnabled: Bool
    private let factory: any MetricsFactory
    private let counters = Locked<[MetricKey: Counter]>([:])
    private let timers = Locked<[MetricKey: CoreMetrics.Timer]>([:])
    private let gauges = Locked<[MetricKey: Gauge]>([:])
    /// Gauge label sets set by the last periodic read: the ones it no longer sees are set to 0.
    private let lastGauges = Locked<Set<MetricKey>>([])
    private let rescued: Counter
    private let batchSize: Recorder
    private let commitDuration: CoreMetrics.Timer

    init(factory: any MetricsFactory) {
        self.factory = factory
        isEnabled = !(factory is NOOPMetricsHandler)
        rescued = Counter(label: "acty_jobs_rescued_total", dimensions: [], factory: factory)
        batchSize = Recorder(label: "acty_writer_batch_size", dimensions: [], aggregate: true, factory: factory)
        commitDuration = CoreMetrics.Timer(label: "acty_writer_commit_duration_seconds", dimensions: [], factory: factory)
    }

    /// A metric's name with its labels: the key of the handle cache.
    struct MetricKey: Hashable, Sendable {
        var label: String
        var dimensions: [Dimension]

        struct Dimension: Hashable, Sendable {
            var name: String
            var value: String
        }

        init(_ label: String, _ dimensions: [(String, String)]) {
            self.label = label
            self.dimensions = dimensions.map { Dimension(name: $0.0, value: $0.1) }
        }

        var pairs: [(String, String)] { dimensions.map { ($0.name, $0.value) } }
    }

    private func counter(_ key: MetricKey) -> Counter {
        Self.cached(key, in: counters) { Counter(label: $0.label, dimensions: $0.pairs, factory: factory) }
    }

    private func timer(_ key: MetricKey) -> CoreMetrics.Timer {
        Self.cached(key, in: timers) { CoreMetrics.Timer(label: $0.label, dimensions: $0.pairs, factory: factory) }
    }

    private func gauge(_ key: MetricKey) -> Gauge {
        Self.cached(key, in: gauges) { Gauge(label: $0.label, dimensions: $0.pairs, factory: factory) }
    }

    /// The handle of `key`, made by `make` the first time.
    private static func cached<Handle>(_ key: MetricKey, in cache: Locked<[MetricKey: Handle]>, make: (MetricKey) -> Handle) -> Handle {
        cache.withLock { handles in
            if let handle = handles[key] { return handle }
            let handle = make(key)
            handles[key] = handle
            return handle
        }
    }

    /// Increments counters by the amounts summed per key: one call per label set, however many jobs it counts.
    private func add(_ amounts: [MetricKey: Int]) {
        for (key, amount) in amounts where amount > 0 { counter(key).increment(by: amount) }
    }

    // MARK: What the engine reports

    /// A committed batch: the attempts it recorded, the jobs it finished and claimed, and the batch itself. Runs on
    /// the writer thread, once per batch. Jobs are tallied by their labels first (one small hash a job), then each
    /// handle is looked up once per label set.
    ///
    /// - Parameters:
    ///   - recorded: the completions the batch recorded (not the released ones, nor those the database refused).
    ///   - finished: the jobs the batch finished, whatever finished them (completions, cancellations, policies).
    ///   - claimed: the jobs the batch leased.
    func batchCommitted(recorded: [Completion], finished: [FinishedJob], claimed: [ClaimedJob], batch: BatchStatistics?) {
        guard isEnabled else { return }
        var attempts: [JobLabels: AttemptTally] = [:]
        for completion in recorded {
            let job = completion.job
            attempts[JobLabels(lane: job.lane, role: job.role, executor: job.executor), default: AttemptTally()].add(completion)
        }
        var amounts: [MetricKey: Int] = [:]
        for (labels, tally) in attempts {
            let dimensions = labels.dimensions
            for (outcome, count) in tally.outcomes {
                amounts[MetricKey("acty_attempts_total", dimensions + [("outcome", outcome)]), default: 0] += count
            }
            amounts[MetricKey("acty_job_retries_total", dimensions), default: 0] += tally.retries
            amounts[MetricKey("acty_attempts_timed_out_total", dimensions), default: 0] += tally.timedOut
            if let usage = tally.usage {
                let tokenLabels = [("lane", labels.lane), ("executor", labels.executor)]
                amounts[MetricKey("acty_tokens_total", tokenLabels + [("kind", "prompt")]), default: 0] += usage.promptTokens
                amounts[MetricKey("acty_tokens_total", tokenLabels + [("kind", "completion")]), default: 0] += usage.completionTokens
                amounts[MetricKey("acty_tokens_total", tokenLabels + [("kind", "cached_prompt")]), default: 0] += usage.cachedPromptTokens
            }
            let timer = timer(MetricKey("acty_job_execution_duration_seconds", dimensions))
            for seconds in tally.durations { timer.recordSeconds(seconds) }
        }
        var finishedJobs: [FinishedLabels: Int] = [:]
        for job in finished {
            finishedJobs[FinishedLabels(job: JobLabels(lane: job.lane, role: job.role, executor: job.executor), state: job.state), default: 0] += 1
        }
        for (labels, count) in finishedJobs {
            amounts[MetricKey("acty_jobs_finished_total", labels.job.dimensions + [("outcome", labels.state.rawValue)]), default: 0] += count
        }
        var started: [StartedLabels: [Double]] = [:]
        for job in claimed {
            let labels = StartedLabels(job: JobLabels(lane: job.lane, role: job.role, executor: job.executor), pool: job.pool)
            started[labels, default: []].append(job.createdAt > 0 ? max(0, job.startedAt - job.createdAt) : -1)
        }
        for (labels, waits) in started {
            amounts[MetricKey("acty_jobs_started_total", labels.job.dimensions + [("pool", labels.pool.rawValue)]), default: 0] += waits.count
            let timer = timer(MetricKey("acty_job_queue_wait_seconds", labels.job.dimensions))
            for wait in waits where wait >= 0 { timer.recordSeconds(wait) }
        }
        add(amounts)
        if let batch {
            batchSize.record(batch.requests + recorded.count + claimed.count)
            commitDuration.recordNanoseconds(batch.duration.nanoseconds)
        }
    }

    /// The labels of a job's metrics: lane, role and executor.
    private struct JobLabels: Hashable {
        var lane: String
        var role: JobRole
        var executor: String

        var dimensions: [(String, String)] { [("lane", lane), ("role", role.rawValue), ("executor", executor)] }
    }

    private struct FinishedLabels: Hashable {
        var job: JobLabels
        var state: JobState
    }

    private struct StartedLabels: Hashable {
        var job: JobLabels
        var pool: JobRole
    }

    /// What the recorded attempts of one label set add up to.
    private struct AttemptTally {
        var outcomes: [String: Int] = [:]
        var retries = 0
        var timedOut = 0
        var usage: TokenUsage?
        var durations: [Double] = []

        mutating func add(_ completion: Completion) {
            let outcome: String
            switch completion.outcome {
            case .succeeded: outcome = "succeeded"
            case .resubmitted: outcome = "resubmitted"
            case .failed(let failure):
                outcome = failure.timedOut ? "timed_out" : "failed"
                if failure.retryAfter != nil { retries += 1 }
                if failure.timedOut { timedOut += 1 }
            }
            outcomes[outcome, default: 0] += 1
            if let reported = completion.usage {
                var total = usage ?? TokenUsage()
                total.promptTokens += reported.promptTokens
                total.completionTokens += reported.completionTokens
                total.cachedPromptTokens += reported.cachedPromptTokens
                usage = total
            }
            durations.append(max(0, completion.finishedAt - completion.job.startedAt))
        }
    }

    /// Jobs of silent or dead workers that this engine's rescuer took back.
    func rescued(_ count: Int) {
        guard isEnabled, count > 0 else { return }
        rescued.increment(by: count)
    }

    /// A primer found its group's cache entry ready (`hit`), or had to create it (`miss`), and whether it did.
    func cache(_ event: CacheEvent) {
        guard isEnabled else { return }
        counter(MetricKey("acty_cache_events_total", [("event", event.rawValue)])).increment()
    }

    enum CacheEvent: String {
        case hit, miss, creation
        case creationFailed = "creation_failed"
    }

    /// Sets the queue gauges from a periodic read of the database: jobs waiting by lane and state, and jobs running
    /// by lane and pool. Label sets the read no longer sees drop to 0.
    func queueDepths(_ depths: [QueueDepth]) {
        guard isEnabled else { return }
        var seen = Set<MetricKey>()
        for depth in depths {
            let key: MetricKey
            if depth.state == .running {
                key = MetricKey("acty_jobs_in_flight", [("lane", depth.lane), ("pool", depth.pool?.rawValue ?? "none")])
            } else {
                key = MetricKey("acty_queue_depth", [("lane", depth.lane), ("state", depth.state.rawValue)])
            }
            gauge(key).record(depth.count)
            seen.insert(key)
        }
        let gone = lastGauges.withLock { last in
            defer { last = seen }
            return last.subtracting(seen)
        }
        for key in gone { gauge(key).record(0) }
    }
}

extension Duration {
    /// The duration in whole nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
