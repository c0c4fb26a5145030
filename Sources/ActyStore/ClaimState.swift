import ActyCore

/// The fair-share state of one engine's claims, shared by its dispatcher and the writer.
///
/// The dispatcher may have more than one claim queued at the writer; claims run one after the other on the writer
/// thread, and each one continues from the state the previous one left, so lane passes stay exact. The dispatcher
/// marks lanes that got new work at any time, also while a claim runs.
package final class ClaimState: Sendable {
    private struct State {
        var planner: ClaimPlanner
        var dataVersion: Int?
        var isClaiming = false
        var activatedDuringClaim: Set<WorkKind> = []
        /// The planner before the latest claim, to return to if that claim's transaction rolls back.
        var beforeLastClaim: (planner: ClaimPlanner, dataVersion: Int?)?
    }

    private let state: Locked<State>

    /// Creates the state of an engine's claims.
    package init(workStealing: Bool) {
        state = Locked(State(planner: ClaimPlanner(workStealing: workStealing)))
    }

    /// Marks kinds of work as possibly ready.
    package func activate(_ kinds: Set<WorkKind>) {
        guard !kinds.isEmpty else { return }
        state.withLock { state in
            for kind in kinds { state.planner[kind.role].activate(kind.lane) }
            if state.isClaiming { state.activatedDuringClaim.formUnion(kinds) }
        }
    }

    /// Whether some lane may have work for the given idle workers.
    package func mayHaveWork(freePrimerWorkers: Int, freeFollowerWorkers: Int) -> Bool {
        state.withLock { $0.planner.mayHaveWork(freePrimerWorkers: freePrimerWorkers, freeFollowerWorkers: freeFollowerWorkers) }
    }

    /// Runs a claim with the current planner and keeps the planner it leaves, plus the lanes activated meanwhile.
    func claim<T>(_ body: (inout ClaimPlanner, inout Int?) throws -> T) rethrows -> T {
        var (planner, dataVersion) = state.withLock { state in
            state.isClaiming = true
            state.beforeLastClaim = (state.planner, state.dataVersion)
            return (state.planner, state.dataVersion)
        }
        defer {
            state.withLock { state in
                state.planner = planner
                state.dataVersion = dataVersion
                for kind in state.activatedDuringClaim { state.planner[kind.role].activate(kind.lane) }
                state.activatedDuringClaim = []
                state.isClaiming = false
            }
        }
        do {
            return try body(&planner, &dataVersion)
        } catch {
            // Nothing of a failed claim is kept: start the next one from where this one did, every lane open.
            (planner, dataVersion) = state.withLock { $0.beforeLastClaim! }
            planner.primers.activateAll()
            planner.followers.activateAll()
            throw error
        }
    }

    /// Forgets what the latest claim did to the planner: its transaction rolled back, so the lanes it found
    /// empty may hold work again. Every lane is marked as possibly having work, which at worst costs a claim that
    /// finds nothing.
    func rollBackLastClaim() {
        state.withLock { state in
            guard let before = state.beforeLastClaim else { return }
            state.planner = before.planner
            state.dataVersion = before.dataVersion
            state.planner.primers.activateAll()
            state.planner.followers.activateAll()
            state.beforeLastClaim = nil
        }
    }
}
