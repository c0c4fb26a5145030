import ActyStore

extension ActyEngine {
    /// A handle on a lane, created in the database if it does not exist yet.
    ///
    /// ```swift
    /// let tenant = try await engine.lane("tenant-a", weight: 2)
    /// try await engine.submitGroup("report-1", primer: ["agent": "planner"], lane: tenant.name)
    /// try await tenant.update(weight: 3, maxInflight: 4)       // from the next claim on, in every engine on the file
    /// ```
    ///
    /// A new lane gets its settings from ``EngineConfiguration/lanes`` or ``EngineConfiguration/defaultLane``, with
    /// `weight` instead of theirs when given. For a lane that exists, a given `weight` replaces its weight and its
    /// cap stays; without one, nothing changes. Changes are recorded as `lane_configs_updated` events.
    ///
    /// - Throws: ``ActyError/Code/invalidArgument`` for an invalid name or a weight that is not a finite number
    ///   above 0.
    public func lane(_ name: String, weight: Double? = nil) async throws -> Lane {
        try checkRunning()
        try LaneConfiguration.validateName(name)
        let initial = configuration.lanes[name] ?? configuration.defaultLane
        if let weight { try LaneConfiguration(weight: weight).validate(name: name) }
        _ = try await store.openLane(name, initial: (initial.weight, initial.maxInflight), weight: weight, worker: workerID)
        knownLanes.withLock { _ = $0.insert(name) }
        return Lane(engine: self, name: name)
    }
}

/// A lane of the database: its settings, changed at runtime, apply to every engine on the file from its next claim
/// on and survive restarts. Get one from ``ActyEngine/lane(_:weight:)``; submit to it with `lane: lane.name`.
public struct Lane: Sendable {
    /// The engine the handle works through.
    public let engine: ActyEngine
    /// The lane's name.
    public let name: String

    /// Sets the lane's weight and its cap on running jobs across every process (`nil`: no cap).
    ///
    /// - Throws: ``ActyError/Code/invalidArgument`` for a weight that is not a finite number above 0 or a cap
    ///   below 1.
    public func update(weight: Double, maxInflight: Int?) async throws {
        try await engine.setLane(name, LaneConfiguration(weight: weight, maxInflight: maxInflight))
    }

    /// Sets the lane's weight; its cap stays.
    public func update(weight: Double) async throws {
        try engine.checkRunning()
        try LaneConfiguration(weight: weight).validate(name: name)
        try await engine.store.setLaneWeight(name, weight: weight, worker: engine.workerID)
    }

    /// Stops claiming the lane's jobs in every engine on the file; running ones finish. Returns whether it was
    /// running.
    @discardableResult
    public func pause() async throws -> Bool {
        try engine.checkRunning()
        return try await engine.store.setLanePaused(name, paused: true, worker: engine.workerID)
    }

    /// Claims the lane's jobs again. Returns whether it was paused.
    @discardableResult
    public func resume() async throws -> Bool {
        try engine.checkRunning()
        return try await engine.store.setLanePaused(name, paused: false, worker: engine.workerID)
    }

    /// A ``GroupRegistry`` whose groups open in this lane.
    public func registry(
        groupKey: @escaping @Sendable (GroupRegistry.Key) -> String = { "\($0.namespace):\($0.key)" },
        onClose: @escaping @Sendable (String) async -> Void = { _ in }
    ) -> GroupRegistry {
        GroupRegistry(engine: engine, lane: name, groupKey: groupKey, onClose: onClose)
    }

    /// The lane's settings as stored now, and whether it is paused.
    public func settings() async throws -> (configuration: LaneConfiguration, isPaused: Bool) {
        guard let lane = try await engine.store.lanes().first(where: { $0.name == name }) else {
            throw ActyError(.unknownLane, "no lane named '\(name)' exists in the database")
        }
        return (LaneConfiguration(weight: lane.weight, maxInflight: lane.maxInflight), lane.isPaused)
    }
}
