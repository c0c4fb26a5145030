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

    @Test func aDelayedResubmitWaitsScheduled() {
        var state = DashboardState()
        state.apply(Self.event(1, .jobQueued))
        state.apply(Self.event(2, .jobStarted))
        state.apply(Self.event(3, .jobResubmitted, payload: ["attempt": 1, "handler": "h", "reason": "later", "delay": 5]))
        #expect(state.jobs["7"]?.phase == .scheduled)
        #expect(state.total(.scheduled) == 1 && state.total(.ready) == 0)
    }

    @Test func rateLimitEventsAreKnownAndCounted() {
        var state = DashboardState()
        state.apply(Self.event(1, .rateLimited, payload: ["executor": "openai", "retry_after": 2, "slowdown": 0.5]))
        state.apply(Self.event(2, .rateLimitRestored, payload: ["executor": "openai"]))
        #expect(state.rateLimited == 1)
        #expect(state.unknownTypes.isEmpty)
    }

    /// Every event the engine writes is one the dashboard knows: none of ours ever counts as unknown.
    @Test func everyEngineEventTypeIsKnown() {
        let unknown = EventType.allCases.filter { TUIEvent.Kind(rawValue: $0.rawValue) == nil }
        #expect(unknown.isEmpty, "\(unknown)")
    }
}
