import ActyCore
import GRDB
import Synchronization

/// The single writer: runs concurrent write requests together in one transaction (group commit) and
/// acknowledges each only after that transaction committed.
///
/// Commits are what a durable queue pays for, so everything that arrives while a transaction is running goes into
/// the next one: under load, one commit carries many submissions, claims and completions. Each request runs in its
/// own savepoint, so a request that fails (a group key already in use, say) is rolled back alone and the others
/// still commit.
///
/// Transactions begin with `BEGIN IMMEDIATE`, so another process's writer waits for the busy timeout instead of
/// failing halfway through.
///
/// Related SQLite documentation: <https://www.sqlite.org/lang_transaction.html>
final class GroupCommitWriter: Sendable {
    /// A queued request: `run` executes it inside the batch transaction and returns what to do once the batch
    /// has committed (or failed).
    private struct Request: Sendable {
        let run: @Sendable (Database) -> @Sendable ((any Error)?) -> Void
        let fail: @Sendable (any Error) -> Void
    }

    private struct State {
        var queue: [Request] = []
        var isDraining = false
    }

    private let database: any DatabaseWriter
    private let state = Mutex(State())
    private let afterBatch: @Sendable (_ committed: Bool) -> Void

    /// Creates a writer over a GRDB database writer.
    ///
    /// - Parameter afterBatch: called on the writer thread after each batch transaction, with whether it committed,
    ///   before the requests are acknowledged (used to hand events to sinks in commit order).
    init(database: any DatabaseWriter, afterBatch: @escaping @Sendable (_ committed: Bool) -> Void = { _ in }) {
        self.database = database
        self.afterBatch = afterBatch
    }

    /// Runs `body` in the next batch transaction and returns its value once that transaction has committed.
    ///
    /// - Parameter undo: called on the writer thread with `body`'s value when the batch fails to commit after
    ///   `body` succeeded, before any later batch runs (row ids of a rolled-back batch can be given out again).
    /// - Throws: the error `body` threw (its savepoint is rolled back, the rest of the batch commits), or the error
    ///   that made the whole transaction fail (then nothing of the batch was kept).
    func write<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T,
        undo: (@Sendable (T) -> Void)? = nil
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueue(Request(run: { db in
                do {
                    var value: T?
                    try db.inSavepoint {
                        value = try body(db)
                        return .commit
                    }
                    let result = value!
                    return { batchError in
                        if let batchError {
                            undo?(result)
                            continuation.resume(throwing: batchError)
                        } else {
                            continuation.resume(returning: result)
                        }
                    }
                } catch {
                    let mapped = StoreErrors.map(error)
                    return { batchError in continuation.resume(throwing: batchError ?? mapped) }
                }
            }, fail: { error in continuation.resume(throwing: error) }))
        }
    }

    private func enqueue(_ request: Request) {
        let startDraining = state.withLock { state in
            state.queue.append(request)
            if state.isDraining { return false }
            state.isDraining = true
            return true
        }
        if startDraining { scheduleBatch() }
    }

    /// Runs one batch per block on GRDB's writer queue, so that other work queued there (reads of an in-memory
    /// database) is not starved while requests keep arriving.
    private func scheduleBatch() {
        database.asyncWriteWithoutTransaction { db in
            let batch = self.state.withLock { state in
                let batch = state.queue
                state.queue.removeAll(keepingCapacity: true)
                if batch.isEmpty { state.isDraining = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            self.commit(batch, in: db)
            self.scheduleBatch()
        }
    }

    private func commit(_ batch: [Request], in db: Database) {
        do {
            try db.beginTransaction(.immediate)
        } catch {
            let mapped = StoreErrors.map(error)
            afterBatch(false)
            for request in batch { request.fail(mapped) }
            return
        }
        var acknowledgements: [@Sendable ((any Error)?) -> Void] = []
        acknowledgements.reserveCapacity(batch.count)
        for request in batch {
            // SQLite rolls the whole transaction back on some errors (disk full, I/O error); the requests left
            // must then not run, since outside a transaction each statement would commit on its own.
            guard db.isInsideTransaction else { break }
            acknowledgements.append(request.run(db))
        }
        var batchError: (any Error)?
        if db.isInsideTransaction {
            do {
                try db.commit()
            } catch {
                batchError = StoreErrors.map(error)
                try? db.rollback()
            }
        } else {
            batchError = ActyError(.storage, "SQLite rolled back the write transaction; no change of this batch was saved")
        }
        afterBatch(batchError == nil)
        for acknowledge in acknowledgements { acknowledge(batchError) }
        if let batchError {
            for request in batch.dropFirst(acknowledgements.count) { request.fail(batchError) }
        }
    }
}
