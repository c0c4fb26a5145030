import ActyStore

extension ActyEngine {
    /// Every job outcome recorded from now on, as it happens: jobs that succeed, fail for the last time or are
    /// cancelled, whichever engine on the file ran them.
    ///
    /// ```swift
    /// for try await result in engine.results() {
    ///     print(result.jobID, result.status)
    /// }
    /// ```
    ///
    /// The sequence reads the outcomes from the database's event log, a page at a time as you iterate: the file is
    /// its buffer, so a slow consumer holds up nothing and loses nothing, and memory stays bounded by one page. It
    /// wakes when this engine commits outcomes and at every ``EngineConfiguration/pollInterval`` for those of other
    /// processes and tools. Retries in between are not results: a job that fails and is retried comes once, when it
    /// ends. It ends when the engine shuts down; cancelling the iterating task ends it with `CancellationError`.
    ///
    /// "From now on" starts after the newest event this engine knows of when you call: its own commits, or the log's
    /// end when it opened, so outcomes other processes recorded just before the call may come too.
    public func results() -> JobResults {
        JobResults(store: store, feed: registry.feed, after: store.lastKnownEventSeq)
    }

    /// Every job outcome recorded after the event `seq`, then as they happen (see ``results()``): a consumer that
    /// keeps the ``JobResult/eventSeq`` of the last result it handled continues from there after a restart, without
    /// missing or repeating one. Outcomes whose events were pruned from the log are not read.
    public func results(after seq: Int64) -> JobResults {
        JobResults(store: store, feed: registry.feed, after: seq)
    }
}

/// Job outcomes in the order they were recorded: see ``ActyEngine/results()``.
public struct JobResults: AsyncSequence, Sendable {
    public typealias Element = JobResult

    let store: Store
    let feed: ResultsFeed
    let after: Int64

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, feed: feed, cursor: after)
    }

    /// Reads the results a page at a time and waits for more when it has read them all.
    public struct Iterator: AsyncIteratorProtocol {
        /// Results read per query.
        static let pageSize = 500

        let store: Store
        let feed: ResultsFeed
        var cursor: Int64
        var page: [JobResult] = []
        var nextInPage = 0

        public mutating func next() async throws -> JobResult? {
            while true {
                if nextInPage < page.count {
                    defer { nextInPage += 1 }
                    return page[nextInPage]
                }
                try Task.checkCancellation()
                // Taken before the read: an outcome committed while it runs wakes the wait below at once.
                guard let seen = feed.generation else { return nil }
                let finished: [FinishedJobEvent]
                do {
                    (finished, cursor) = try await store.finishedJobs(after: cursor, limit: Self.pageSize)
                } catch {
                    // The engine shut down and closed its database meanwhile.
                    if feed.generation == nil { return nil }
                    throw error
                }
                page = finished.map(JobResult.init(finished:))
                nextInPage = 0
                if page.isEmpty, try await !feed.wait(after: seen) { return nil }
            }
        }
    }
}

/// Tells iterators of ``JobResults`` that new outcomes may be in the database: after this engine's commits that
/// finished jobs, and at every poll for other processes. Costs a lock and a counter when no one iterates.
final class ResultsFeed: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var isClosed = false
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    }

    private let state = Locked(State())

    /// How many iterators wait for a notification.
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// The count of notifications so far, or `nil` once the feed is closed.
    var generation: UInt64? {
        state.withLock { $0.isClosed ? nil : $0.generation }
    }

    /// Wakes every waiting iterator.
    func notify() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.generation &+= 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// Ends every iteration: the engine stopped.
    func close() {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            state.isClosed = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }

    /// Waits for a notification after `generation`; `false` when the feed closed. Throws `CancellationError` when
    /// the waiting task is cancelled.
    func wait(after generation: UInt64) async throws -> Bool {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let notified = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let answer = state.withLock { state -> Bool? in
                    if state.isClosed { return false }
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: true)
        }
        try Task.checkCancellation()
        return notified
    }
}

extension JobResult {
    /// The outcome an event recorded, with the job's row as read.
    init(finished: FinishedJobEvent) {
        self.init(record: finished.job)
        switch finished.type {
        case .jobSucceeded: status = .succeeded
        case .jobCancelled: status = .cancelled
        default: status = .failed
        }
        // The job may have been run again since: keep only what matches this outcome.
        if status != .succeeded { output = nil }
        eventSeq = finished.seq
    }
}
