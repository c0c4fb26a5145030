public import ActyCore
import Synchronization

/// The fair-share state of one engine's claims, shared by its dispatcher and the writer.
///
/// The dispatcher may have more than one claim queued at the writer; claims run one after the other on the writer
/// thread, and each one continues from the state the previous one left, so lane passes stay exact. The dispatcher
/// marks lanes that got new work at any time, also while a claim runs.
public final class ClaimState: Sendable {
    private struct State {
        var planner: ClaimPlanner
        var dataVersion: Int?
        var isClaiming = false
        var activatedDuringClaim: Set<WorkKind> = []
    }

    private let state: Mutex<State>

    /// Creates the state of an engine's claims.
    public init(workStealing: Bool) {
        state = Mutex(State(planner: ClaimPlanner(workStealing: workStealing)))
    }

    /// Marks kinds of work as possibly ready.
    public func activate(_ kinds: Set<WorkKind>) {
        guard !kinds.isEmpty else { return }
        state.withLock { state in
            for kind in kinds { state.planner[kind.role].activate(kind.lane) }
            if state.isClaiming { state.activatedDuringClaim.formUnion(kinds) }
        }
    }

    /// Whether some lane may have work for the given idle workers.
    public func mayHaveWork(freePrimerWorkers: Int, freeFollowerWorkers: Int) -> Bool {
        state.withLock { $0.planner.mayHaveWork(freePrimerWorkers: freePrimerWorkers, freeFollowerWorkers: freeFollowerWorkers) }
    }

    /// Runs a claim with the current planner and keeps the planner it leaves, plus the lanes activated meanwhile.
    func claim<T>(_ body: (inout ClaimPlanner, inout Int?) throws -> T) rethrows -> T {
        var (planner, dataVersion) = state.withLock { state in
            state.isClaiming = true
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
        return try body(&planner, &dataVersion)
    }
}
