import ActyCore
import GRDB

/// The single writer: runs concurrent write requests together in one transaction (group commit) and
/// acknowledges each only after that transaction committed.
///
/// Commits are what a durable queue pays for, so everything that arrives while a transaction is running goes into
/// the next one: under load, one commit carries many submissions, claims and completions.
///
/// Requests run without savepoints, which would make SQLite copy every page they touch into a statement journal.
/// Instead a request that throws rolls back the whole batch: it alone gets its error, and the others run again in
/// a new transaction. Requests check their input before they write, so this stays rare.
///
/// Transactions begin with `BEGIN IMMEDIATE`, so another process's writer waits for the busy timeout instead of
/// failing halfway through.
///
/// One request at a time may wait on *standby*: it does not start a transaction of its own but runs at the end of
/// the next batch, whatever else that batch holds (or when ``releaseStandby()`` sends it). The dispatcher parks its
/// claim there while it has idle workers and nothing to give them, so a job submitted then is claimed in the very
/// transaction that enqueues it, instead of in the next one.
///
/// Related SQLite documentation: <https://www.sqlite.org/lang_transaction.html>
final class GroupCommitWriter: Sendable {
    /// A request that ran inside the batch transaction, waiting for the batch's outcome.
    private struct Applied: Sendable {
        /// Delivers the request's value: its transaction committed.
        let acknowledge: @Sendable () -> Void
        /// Reverts what the request did outside the database: its transaction was rolled back.
        let undo: @Sendable () -> Void
    }

    /// A queued request.
    private struct Request: Sendable {
        /// Runs the request inside the batch transaction.
        let run: @Sendable (Database) throws -> Applied
        /// Delivers an error instead of a value.
        let fail: @Sendable (any Error) -> Void
    }

    private struct State {
        var queue: [Request] = []
        var isDraining = false
        var standby: Request?
        /// ``releaseStandby()`` came before the standby request it meant: that request does not wait.
        var releasesNextStandby = false
    }

    private let database: any DatabaseWriter
    private let state = Locked(State())
    private let afterBatch: @Sendable (_ committed: Bool) -> Void
    private let path: String?

    /// Creates a writer over a GRDB database writer.
    ///
    /// - Parameters:
    ///   - path: the database file, named in error messages.
    ///   - afterBatch: called on the writer thread after each batch transaction, with whether it committed,
    ///     before the requests are acknowledged (used to hand events to sinks in commit order).
    init(database: any DatabaseWriter, path: String? = nil, afterBatch: @escaping @Sendable (_ committed: Bool) -> Void = { _ in }) {
        self.database = database
        self.path = path
        self.afterBatch = afterBatch
    }

    /// Runs `body` in the next batch transaction and returns its value once that transaction has committed.
    ///
    /// `body` may run more than once, when another request of its batch fails: it must not have effects outside
    /// the database other than those `undo` reverts.
    ///
    /// - Parameter undo: called on the writer thread with `body`'s value when its transaction is rolled back after
    ///   `body` succeeded, before any later transaction runs (row ids of a rolled-back transaction are given out
    ///   again).
    /// - Parameter standby: wait for another request (or ``releaseStandby()``) and run at the end of its batch. At
    ///   most one request may be on standby.
    /// - Parameter committed: called on the writer thread with `body`'s value once its transaction has committed,
    ///   before the caller resumes (the dispatcher hands claimed jobs to its workers there, without a hop).
    /// - Throws: the error `body` threw, or the error that made the whole transaction fail (then nothing of the
    ///   batch was kept).
    func write<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T,
        undo: (@Sendable (T) -> Void)? = nil,
        standby: Bool = false,
        committed: (@Sendable (T) -> Void)? = nil
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue(
                Request(
                    run: { db in
                        let value = try body(db)
                        return Applied(
                            acknowledge: {
                                committed?(value)
                                continuation.resume(returning: value)
                            },
                            undo: { undo?(value) }
                        )
                    },
                    fail: { continuation.resume(throwing: $0) }
                ),
                standby: standby
            )
        }
    }

    /// Whether a request waits on standby.
    var hasStandby: Bool { state.withLock { $0.standby != nil } }

    /// Runs the standby request without waiting for another one; if none waits yet, the next one sent runs at
    /// once (its sender may be on its way here).
    func releaseStandby() {
        let startDraining = state.withLock { state in
            guard let standby = state.standby else {
                state.releasesNextStandby = true
                return false
            }
            state.standby = nil
            return Self.append(standby, to: &state)
        }
        if startDraining { scheduleBatch() }
    }

    private func enqueue(_ request: Request, standby: Bool) {
        let startDraining = state.withLock { state in
            if standby, !state.releasesNextStandby {
                precondition(state.standby == nil, "only one write request may wait on standby")
                state.standby = request
                return false
            }
            if standby { state.releasesNextStandby = false }
            return Self.append(request, to: &state)
        }
        if startDraining { scheduleBatch() }
    }

    /// Queues a request; returns whether the caller must start draining the queue.
    private static func append(_ request: Request, to state: inout State) -> Bool {
        state.queue.append(request)
        if state.isDraining { return false }
        state.isDraining = true
        return true
    }

    /// Runs one batch per block on GRDB's writer queue, so that other work queued there (reads of an in-memory
    /// database) is not starved while requests keep arriving.
    private func scheduleBatch() {
        database.asyncWriteWithoutTransaction { db in
            let batch = self.state.withLock { state in
                var batch = state.queue
                state.queue.removeAll(keepingCapacity: true)
                if batch.isEmpty {
                    state.isDraining = false
                } else if let standby = state.standby {
                    state.standby = nil
                    batch.append(standby)
                }
                return batch
            }
            guard !batch.isEmpty else { return }
            self.commit(batch, in: db)
            self.scheduleBatch()
        }
    }

    private func commit(_ batch: [Request], in db: Database) {
        var pending = batch
        while !pending.isEmpty {
            do {
                try db.beginTransaction(.immediate)
            } catch {
                fail(pending, error)
                return
            }
            var applied: [Applied] = []
            applied.reserveCapacity(pending.count)
            var failure: (index: Int, error: any Error)?
            for (index, request) in pending.enumerated() {
                do {
                    applied.append(try request.run(db))
                } catch {
                    failure = (index, error)
                    break
                }
            }
            if let failure {
                // Roll back everything and run the others again without the failed request, unless the database
                // itself cannot be written (a full disk, an I/O error, a lock): then every other request would
                // meet the same error, one batch after another.
                rollBack(applied, in: db)
                if StoreErrors.isWriteFault(failure.error) {
                    fail(pending, failure.error)
                    return
                }
                pending[failure.index].fail(StoreErrors.map(failure.error, path: path))
                pending.remove(at: failure.index)
                continue
            }
            do {
                try db.commit()
            } catch {
                rollBack(applied, in: db)
                fail(pending, error)
                return
            }
            afterBatch(true)
            for request in applied { request.acknowledge() }
            return
        }
    }

    /// Fails every request of a batch with the error that stopped its transaction.
    private func fail(_ requests: [Request], _ error: any Error) {
        let mapped = StoreErrors.map(error, path: path)
        for request in requests { request.fail(mapped) }
    }

    private func rollBack(_ applied: [Applied], in db: Database) {
        if db.isInsideTransaction { try? db.rollback() }
        for request in applied { request.undo() }
        afterBatch(false)
    }
}
