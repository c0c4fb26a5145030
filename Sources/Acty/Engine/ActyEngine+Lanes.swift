import ActyStore

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
    }
}
