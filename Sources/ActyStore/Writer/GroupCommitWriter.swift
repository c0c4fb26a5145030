import ActyCore

/// The single writer: runs concurrent write requests together in one transaction (group commit) and
/// acknowledges each only after that transaction committed.
///
/// Commits are what a durable queue pays for, so everything that arrives while a transaction is running goes into
/// the next one: under load, one commit carries many submissions, claims and completions.
///
/// Every batch runs on the database's writer queue (the *writer thread*: GRDB's for SQLite) in four steps, one hook
/// each:
/// 1. `BEGIN IMMEDIATE` (``WriterConnection/beginWriteTransaction()``), then each request's **body**, in arrival
///    order;
/// 2. the **tail** (``BatchTail/beforeCommit(_:)``): what the writer's owner does in every batch, after the
///    requests (the engine records completions and claims jobs there);
/// 3. `COMMIT`, then each request's **committed** continuation, which turns the body's value into the caller's
///    (the engine registers the result slots of new jobs there);
/// 4. the tail's ``BatchTail/afterTransaction(_:)`` with the outcome (the engine hands claimed jobs to workers and
///    resolves results there), and only then do the callers resume.
///
/// All of it runs before the next batch begins.
///
/// ``kick()`` asks for a batch when no request is queued: the tail has work of its own.
///
/// Requests run without savepoints, which would make SQLite copy every page they touch into a statement journal.
/// Instead a request that throws rolls back the whole batch: it alone gets its error, and the others run again in
/// a new transaction (so a body may run more than once and must have no effect outside the database). A write
/// fault (a full disk, an I/O error, a lock held past the busy timeout) fails the whole batch at once.
///
/// Transactions exclude every other writer from their start, so another process's writer waits instead of failing
/// halfway through.
///
/// Related SQLite documentation: <https://www.sqlite.org/lang_transaction.html>
final class GroupCommitWriter<Queue: WriterQueue>: Sendable {
    typealias Connection = Queue.Connection

    /// A queued request.
    private struct Request: Sendable {
        /// Runs the request's body inside the batch transaction; returns how to acknowledge it once committed.
        let run: @Sendable (Connection) throws -> Acknowledgement
        /// Delivers an error instead of a value.
        let fail: @Sendable (any Error) -> Void
    }

    /// Makes a request's value once its transaction committed, and returns how to deliver it.
    private typealias Acknowledgement = @Sendable () -> Delivery
    /// Resumes a request's caller.
    private typealias Delivery = @Sendable () -> Void

    private struct State {
        var queue: [Request] = []
        var isDraining = false
        /// A batch was asked for (``kick()``) since the last one began.
        var isKicked = false
    }

    private let queue: Queue
    private let state = Locked(State())
    private let tail: any BatchTail<Connection>

    /// Creates a writer that runs its batches on `queue`.
    ///
    /// - Parameter tail: the work every batch does besides its requests.
    init(queue: Queue, tail: any BatchTail<Connection> = NoTail()) {
        self.queue = queue
        self.tail = tail
    }

    /// Runs `body` in the next batch transaction and returns its value once that transaction has committed.
    ///
    /// - Parameter committed: runs on the writer thread once the transaction has committed, before the tail's
    ///   ``BatchTail/afterTransaction(_:)`` and the next batch: what it returns is the caller's value.
    /// - Throws: the error `body` threw, or the error that made the whole transaction fail (then nothing of the
    ///   batch was kept).
    func write<T: Sendable, U: Sendable>(
        _ body: @escaping @Sendable (Connection) throws -> T,
        committed: @escaping @Sendable (T) -> U
    ) async throws -> U {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<U, any Error>) in
            let request = Request(
                run: { db in
                    let value = try body(db)
                    return {
                        let result = committed(value)
                        return { continuation.resume(returning: result) }
                    }
                },
                fail: { continuation.resume(throwing: $0) }
            )
            let startDraining = state.withLock { state in
                state.queue.append(request)
                return Self.startDraining(&state)
            }
            if startDraining { scheduleBatch() }
        }
    }

    /// Runs `body` in the next batch transaction and returns its value once that transaction has committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await write(body, committed: { $0 })
    }

    /// Asks for a batch even if no request comes: the tail has work.
    func kick() {
        let startDraining = state.withLock { state in
            state.isKicked = true
            return Self.startDraining(&state)
        }
        if startDraining { scheduleBatch() }
    }

    /// Whether the caller must start draining the queue.
    private static func startDraining(_ state: inout State) -> Bool {
        if state.isDraining { return false }
        state.isDraining = true
        return true
    }

    /// Runs one batch per block on the writer queue, so that other work queued there (reads of an in-memory SQLite
    /// database) is not starved while requests keep arriving.
    private func scheduleBatch() {
        queue.async { db in
            let batch = self.state.withLock { state -> [Request]? in
                let batch = state.queue
                let isKicked = state.isKicked
                state.queue.removeAll(keepingCapacity: true)
                state.isKicked = false
                if batch.isEmpty, !isKicked {
                    state.isDraining = false
                    return nil
                }
                return batch
            }
            guard let batch else { return }
            self.commit(batch, in: db)
            self.scheduleBatch()
        }
    }

    private func commit(_ batch: [Request], in db: Connection) {
        var pending = batch
        let began = ContinuousClock.now
        while true {
            do {
                try db.beginWriteTransaction()
            } catch {
                fail(pending, error)
                return
            }
            var acknowledgements: [Acknowledgement] = []
            acknowledgements.reserveCapacity(pending.count)
            var failure: (index: Int, error: any Error)?
            for (index, request) in pending.enumerated() {
                do {
                    acknowledgements.append(try request.run(db))
                } catch {
                    failure = (index, error)
                    break
                }
            }
            if let failure {
                // Roll back everything and run the others again without the failed request, unless the database
                // itself cannot be written (a full disk, an I/O error, a lock): then every other request would
                // meet the same error, one batch after another.
                db.rollbackTransaction()
                if queue.isWriteFault(failure.error) {
                    fail(pending, failure.error)
                    return
                }
                tail.afterTransaction(.rolledBackToRetry)
                pending[failure.index].fail(queue.mapError(failure.error))
                pending.remove(at: failure.index)
                continue
            }
            do {
                try tail.beforeCommit(db)
                try db.commit()
            } catch {
                db.rollbackTransaction()
                fail(pending, error)
                return
            }
            let deliveries = acknowledgements.map { $0() }
            tail.afterTransaction(.committed(BatchStatistics(requests: pending.count, duration: .now - began)))
            for deliver in deliveries { deliver() }
            return
        }
    }

    /// Fails every request of a batch with the error that stopped its transaction, after telling the tail.
    private func fail(_ requests: [Request], _ error: any Error) {
        let mapped = queue.mapError(error)
        tail.afterTransaction(.failed(mapped))
        for request in requests { request.fail(mapped) }
    }
}

/// What the owner of a ``GroupCommitWriter`` does in every batch besides its requests, on the writer thread.
protocol BatchTail<Connection>: Sendable {
    associatedtype Connection: WriterConnection
    /// Inside the transaction, after the batch's requests; runs again when the transaction is retried.
    func beforeCommit(_ db: Connection) throws
    /// After each transaction of a batch, before any of its requests is acknowledged or failed.
    func afterTransaction(_ outcome: TransactionOutcome)
}

/// How a batch transaction ended.
enum TransactionOutcome: Sendable {
    /// It committed: the batch is done.
    case committed(BatchStatistics)
    /// A request failed and the transaction was rolled back: the batch runs again without that request.
    case rolledBackToRetry
    /// It failed and nothing of it was kept: the batch is done, every request gets the error.
    case failed(any Error)
}

/// A writer without work of its own.
struct NoTail<Connection: WriterConnection>: BatchTail {
    func beforeCommit(_ db: Connection) throws {}
    func afterTransaction(_ outcome: TransactionOutcome) {}
}
