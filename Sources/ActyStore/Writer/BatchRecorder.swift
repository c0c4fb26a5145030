import ActyCore
import GRDB

/// The engine's part of every write batch: it records what its workers finished and fills its idle workers in the
/// same transaction as the batch's requests (see ``Store/attach(_:)``). Both methods run on the writer thread.
package protocol Dispatch: AnyObject, Sendable {
    /// Inside the batch's transaction, after its requests: the completions to record and the idle workers to fill,
    /// or `nil` for none. Asked once per batch.
    ///
    /// - Parameter readyWork: kinds of work the batch's requests made ready.
    func takeWork(readyWork: Set<WorkKind>) -> DispatchWork?

    /// After the batch: what `work` claimed once the transaction committed, or the error it failed with (then
    /// nothing of the batch was kept, and `effects` is empty).
    ///
    /// - Parameter effects: what the batch changed, its requests' effects and the dispatch's own.
    func batchEnded(_ work: DispatchWork?, _ outcome: Result<DispatchResult, any Error>, effects: WriteEffects)
}

/// The store's tail of every batch (see ``GroupCommitWriter``): collects what the batch's requests changed, runs
/// the attached ``Dispatch``'s work after them, and hands the events to the observer once committed.
final class BatchRecorder: BatchTail {
    private struct State {
        /// Weak: the engine's dispatch holds the store.
        weak var dispatch: (any Dispatch)?
        var events: [EventRecord] = []
        var effects = WriteEffects()
        var work: DispatchWork?
        var result = DispatchResult()
    }

    private let state = Locked(State())
    private let eventObserver: (@Sendable ([EventRecord]) -> Void)?

    /// Whether committed events are kept in memory for the observer.
    var keepsEvents: Bool { eventObserver != nil }

    init(eventObserver: (@Sendable ([EventRecord]) -> Void)?) {
        self.eventObserver = eventObserver
    }

    func attach(_ dispatch: any Dispatch) {
        state.withLock { $0.dispatch = dispatch }
    }

    /// Adds what one request wrote.
    func add(_ context: WriteContext) {
        state.withLock { state in
            state.effects.merge(context.effects)
            if keepsEvents { state.events += context.events }
        }
    }

    func beforeCommit(_ db: Database) throws {
        let (dispatch, readyWork) = state.withLock { ($0.dispatch, $0.effects.readyWork) }
        guard let dispatch, let work = dispatch.takeWork(readyWork: readyWork) else { return }
        state.withLock { $0.work = work }
        var context = WriteContext(db: db, worker: work.worker, keepsEvents: keepsEvents)
        let result = try context.run(work)
        try context.flushEvents()
        add(context)
        state.withLock { $0.result = result }
    }

    func afterTransaction(_ outcome: TransactionOutcome) {
        let finished = state.withLock { state in
            defer {
                state.events.removeAll(keepingCapacity: true)
                state.effects = WriteEffects()
                state.work = nil
                state.result = DispatchResult()
            }
            return (state.dispatch, state.work, state.result, state.effects, state.events)
        }
        let (dispatch, work, result, effects, events) = finished
        switch outcome {
        case .rolledBackToRetry:
            // The batch runs again without the failed request; the dispatch's work has not been taken yet.
            return
        case .committed:
            if let eventObserver, !events.isEmpty { eventObserver(events) }
            dispatch?.batchEnded(work, .success(result), effects: effects)
        case .failed(let error):
            dispatch?.batchEnded(work, .failure(error), effects: WriteEffects())
        }
    }
}
