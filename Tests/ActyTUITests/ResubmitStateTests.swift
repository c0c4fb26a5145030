import ActyCore
import ActyTUI
import Testing

/// `job_resubmitted`: a result handler sent a running job back to the queue for another attempt.
@Suite(.timeLimit(.minutes(1)))
struct ResubmitStateTests {
    static func event(_ seq: Int64, _ type: EventType, payload: JSONValue? = nil) -> TUIEvent {
        TUIEvent(
            seq: seq, at: Double(seq), type: type.rawValue, job: "7", group: "g", role: .primer, lane: "default", pool: "primer",
            engine: "w1", payload: payload
        )
    }

    @Test func aResubmittedJobIsQueuedAgainAndCounted() {
        var state = DashboardState()
        state.apply(Self.event(1, .jobQueued))
        state.apply(Self.event(2, .jobStarted))
        state.apply(Self.event(3, .jobResubmitted, payload: ["attempt": 1, "handler": "JSONRepairHandler", "reason": "not JSON"]))
        #expect(state.resubmitted == 1)
        #expect(state.jobs["7"]?.phase == .ready)
        #expect(state.total(.ready) == 1 && state.total(.running) == 0)
        #expect(state.pools.values.allSatisfy { $0.busy == 0 })
        #expect(state.unknownTypes.isEmpty)

        state.apply(Self.event(4, .jobStarted))
        state.apply(Self.event(5, .jobSucceeded))
        #expect(state.started == 2 && state.finished == 1)
        #expect(state.total(.succeeded) == 1 && state.total(.ready) == 0)
    }
}
