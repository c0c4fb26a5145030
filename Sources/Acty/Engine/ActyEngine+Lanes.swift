import ActyStore
import Logging

extension ActyEngine {
    /// Changes a lane's weight and cap while the engine runs, creating the lane if it does not exist.
    ///
    /// The change is stored in the `lanes` table, so every engine process on the database applies it from its next
    /// claim on, and it survives restarts.
    ///
    /// - Throws: ``ActyError/Code/invalidArgument`` for a weight that is not a finite number above 0, a cap below 1,
    ///   or an invalid lane name.
    public func setLane(_ name: String, _ lane: LaneConfiguration) async throws {
        try checkRunning()
        try LaneConfiguration.validateName(name)
        try lane.validate(name: name)
        try await store.configureLanes([name: (lane.weight, lane.maxInflight)], worker: workerID)
        knownLanes.withLock { _ = $0.insert(name) }
    }

    /// Checks the lane a submission names: `default`, a configured lane or one that exists in the database pass.
    /// Any other name is most likely a typo: it is refused with ``EngineConfiguration/strictLanes``, and otherwise
    /// logged as a warning once per name (the lane is then created with ``EngineConfiguration/defaultLane``).
    ///
    /// - Throws: ``ActyError/Code/unknownLane`` in strict mode, listing the known lanes.
    func checkLane(_ lane: String) async throws {
        if lane == "default" || configuration.lanes[lane] != nil || knownLanes.withLock({ $0.contains(lane) }) { return }
        let stored = try await store.lanes().map(\.name)
        knownLanes.withLock { $0.formUnion(stored) }
        if stored.contains(lane) { return }
        let known = Set(configuration.lanes.keys).union(stored).union(["default"]).sorted().map { "'\($0)'" }.joined(separator: ", ")
        if configuration.strictLanes {
            throw ActyError(
                .unknownLane,
                "lane '\(lane)' is not configured and does not exist in the database; known lanes: \(known). "
                    + "Add it to EngineConfiguration(lanes:) or create it with setLane(_:_:)"
            )
        }
        // Once warned, the name counts as known: the submission creates the lane.
        guard knownLanes.withLock({ $0.insert(lane).inserted }) else { return }
        configuration.logger.warning(
            "a submission names a lane that is not configured and does not exist yet: it is created with the default lane settings",
            metadata: ["lane": "\(lane)", "known_lanes": "\(known)"]
        )
    }
}
