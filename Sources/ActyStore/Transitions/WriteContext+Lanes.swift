import ActyCore

/// Lane administration: pausing and re-weighting lanes that exist.
extension WriteContext {
    /// Pauses or resumes a lane: the jobs of a paused lane are not claimed (running ones finish).
    ///
    /// - Returns: whether the lane's state changed.
    /// - Throws: ``ActyError/Code/unknownLane``.
    mutating func setLanePaused(_ name: String, paused: Bool) throws -> Bool {
        try requireLane(name)
        try db.cachedStatement(sql: "UPDATE lanes SET paused = ?, updated_at = ? WHERE name = ? AND paused != ?").run {
            $0.add(paused ? 1 : 0); $0.add(now); $0.add(name); $0.add(paused ? 1 : 0)
        }
        guard db.changesCount == 1 else { return false }
        try record(.laneConfigsUpdated, lane: name, data: JSONValue.object(["lane": .string(name), "paused": .bool(paused)]).jsonString)
        return true
    }

    /// Sets a lane's weight, and its cap when `maxInflight` is given (`.some(nil)` removes the cap).
    ///
    /// - Throws: ``ActyError/Code/unknownLane``; ``ActyError/Code/invalidArgument`` for a weight that is not a
    ///   finite number above 0, or a cap below 1.
    mutating func setLaneWeight(_ name: String, weight: Double, maxInflight: Int??) throws {
        guard weight.isFinite, weight > 0 else {
            throw ActyError(.invalidArgument, "a lane weight must be a finite number greater than 0, not \(weight)")
        }
        if case .some(.some(let cap)) = maxInflight, cap < 1 {
            throw ActyError(.invalidArgument, "a lane's max in flight must be at least 1, or none for no cap; not \(cap)")
        }
        try requireLane(name)
        if case .some(let cap) = maxInflight {
            try db.cachedStatement(sql: "UPDATE lanes SET weight = ?, max_inflight = ?, updated_at = ? WHERE name = ?").run {
                $0.add(weight); $0.add(cap); $0.add(now); $0.add(name)
            }
        } else {
            try db.cachedStatement(sql: "UPDATE lanes SET weight = ?, updated_at = ? WHERE name = ?").run {
                $0.add(weight); $0.add(now); $0.add(name)
            }
        }
        var data: [String: JSONValue] = ["lane": .string(name), "weight": .number(weight)]
        if case .some(let cap) = maxInflight { data["max_inflight"] = cap.map { .number(Double($0)) } ?? .null }
        try record(.laneConfigsUpdated, lane: name, data: JSONValue.object(data).jsonString)
    }

    /// Creates a lane with `initial` settings unless it exists, then sets its weight when `weight` is given; records
    /// `lane_configs_updated` when anything changed. Returns the lane's settings.
    mutating func openLane(
        _ name: String, initial: (weight: Double, maxInflight: Int?), weight: Double?
    ) throws -> (weight: Double, maxInflight: Int?, paused: Bool) {
        let insert = try db.cachedStatement(sql: """
            INSERT INTO lanes (name, weight, max_inflight, paused, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)
            ON CONFLICT (name) DO UPDATE SET weight = excluded.weight, updated_at = excluded.updated_at
            WHERE ? AND weight != excluded.weight
            """)
        try insert.run {
            $0.add(name); $0.add(weight ?? initial.weight); $0.add(initial.maxInflight); $0.add(now); $0.add(now)
            $0.add(weight == nil ? 0 : 1)
        }
        let changed = db.changesCount > 0
        var settings: (weight: Double, maxInflight: Int?, paused: Bool) = (initial.weight, initial.maxInflight, false)
        try db.cachedStatement(sql: "SELECT weight, max_inflight, paused FROM lanes WHERE name = ?").forEachRow { $0.add(name) } _: { row in
            settings = (row.double(0), row.optionalInt(1), row.int(2) != 0)
        }
        if changed {
            let config: JSONValue = [
                "lane": .string(name), "weight": .number(settings.weight),
                "max_inflight": settings.maxInflight.map { .number(Double($0)) } ?? .null,
            ]
            try record(.laneConfigsUpdated, lane: name, data: JSONValue.object(["lane_configs": [config]]).jsonString)
        }
        return settings
    }

    private func requireLane(_ name: String) throws {
        var exists = false
        try db.cachedStatement(sql: "SELECT 1 FROM lanes WHERE name = ?").forEachRow { $0.add(name) } _: { _ in exists = true }
        guard exists else { throw ActyError(.unknownLane, "no lane named '\(name)' exists in this database") }
    }
}
