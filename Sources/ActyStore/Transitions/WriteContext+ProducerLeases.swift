import ActyCore

/// Producer leases: several producers feed one open group, which closes when the last lease ends.
extension WriteContext {
    /// Takes a lease on an open group for this request's worker; returns its id.
    ///
    /// - Throws: ``ActyError/Code/groupClosed`` unless the group is open.
    mutating func acquireProducerLease(on id: GroupID) throws -> Int64 {
        let group = try groupRow(id)
        guard group.state == .open else {
            throw ActyError(.groupClosed, "group '\(group.key)' is \(group.state.rawValue): a producer lease needs an open group")
        }
        var lease: Int64 = 0
        try db.cachedStatement(sql: "INSERT INTO producer_leases (group_id, worker, acquired_at) VALUES (?, ?, ?) RETURNING id")
            .forEachRow { [worker, now] in $0.add(id.rawValue); $0.add(worker ?? "unknown"); $0.add(now) } _: { lease = $0.int64(0) }
        return lease
    }

    /// Ends a lease; the group closes when it was the last one. Ending a lease that already ended does nothing.
    ///
    /// - Returns: whether the lease was still held.
    mutating func releaseProducerLease(_ lease: Int64) throws -> Bool {
        var group: GroupID?
        try db.cachedStatement(sql: "DELETE FROM producer_leases WHERE id = ? RETURNING group_id").forEachRow { $0.add(lease) } _: {
            group = GroupID($0.int64(0))
        }
        guard let group else { return false }
        try closeIfUnleased([group])
        return true
    }

    /// Ends the leases of engine processes that stopped or were found dead, and closes the groups left without one.
    mutating func releaseProducerLeasesOfStoppedWorkers() throws {
        var groups: Set<GroupID> = []
        try db.cachedStatement(sql: TransitionSQL.releaseStoppedLeasesSQL).forEachRow { _ in } _: { groups.insert(GroupID($0.int64(0))) }
        try closeIfUnleased(groups)
    }

    private mutating func closeIfUnleased(_ groups: some Sequence<GroupID>) throws {
        let remaining = try db.cachedStatement(sql: "SELECT COUNT(*) FROM producer_leases WHERE group_id = ?")
        for group in groups {
            var leases = 0
            try remaining.forEachRow { $0.add(group.rawValue) } _: { leases = $0.int(0) }
            if leases == 0 { try closeGroup(group) }
        }
    }
}

extension TransitionSQL {
    static let releaseStoppedLeasesSQL = """
        DELETE FROM producer_leases WHERE worker IN (SELECT id FROM workers WHERE stopped_at IS NOT NULL)
        RETURNING group_id
        """
}
