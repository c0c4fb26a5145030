import ActyCore

/// The cycle check of a submission's dependencies, over the call's groups and the dependencies stored as waiting.
extension WriteContext {
    /// A group in the dependency graph: one of the call's (by index) or a stored one (by id).
    private enum Node: Hashable {
        case call(Int)
        case stored(GroupID)
    }

    /// Refuses the call when its groups' dependencies would close a cycle, printing it (`a → b → a`).
    ///
    /// The stored waiting dependencies form no cycle, so a new cycle goes through a group of the call that someone
    /// waits for: another group of the call, or a stored dependency waiting for the next group with its key. Only
    /// from those does a depth-first walk start, visiting each group once per call. The walk leaves the call for
    /// stored groups only when some stored dependency waits for a key of the call, the only way back into it: a call
    /// that extends a chain of blocked groups does not walk the chain. Each group of the call costs an index probe.
    ///
    /// - Parameter batch: the index of the call's group for each key.
    func checkCycles(_ groups: [NewGroup], batch: [String: Int]) throws {
        let dependedOn = Set(groups.lazy.flatMap { $0.dependencies.map(\.key) })
        var waitedForByStored: Set<String> = []
        for group in groups where try waitsForNext(key: group.key) { waitedForByStored.insert(group.key) }
        let walksStored = !waitedForByStored.isEmpty
        var visited: [Node: Bool] = [:]  // false while on the walk's path, true once every path from it is known
        for (index, group) in groups.enumerated() where !group.dependencies.isEmpty {
            guard visited[.call(index)] == nil, dependedOn.contains(group.key) || waitedForByStored.contains(group.key) else { continue }
            visited[.call(index)] = false
            var path: [(node: Node, next: [Node])] = [(.call(index), try successors(of: .call(index), groups, batch, walksStored))]
            while !path.isEmpty {
                guard let next = path[path.count - 1].next.popLast() else {
                    visited[path.removeLast().node] = true
                    continue
                }
                switch visited[next] {
                case true?:
                    continue
                case false?:
                    let start = path.firstIndex { $0.node == next }!
                    let cycle = path[start...].map(\.node) + [next]
                    throw try cycleError(cycle, groups)
                case nil:
                    visited[next] = false
                    path.append((next, try successors(of: next, groups, batch, walksStored)))
                }
            }
        }
    }

    /// The groups a node waits for: those of the call by key, the live or unfinished group a key names (when
    /// `walksStored`), and for a stored group its waiting dependencies (one waiting for the next group with a key of
    /// the call waits for it).
    private func successors(of node: Node, _ groups: [NewGroup], _ batch: [String: Int], _ walksStored: Bool) throws -> [Node] {
        switch node {
        case .call(let index):
            return try groups[index].dependencies.compactMap { dependency in
                if let other = batch[dependency.key] { return .call(other) }
                guard walksStored else { return nil }
                var unfinished: GroupID?
                try db.cachedStatement(sql: TransitionSQL.newestGroupSQL).forEachRow { $0.add(dependency.key) } _: { row in
                    if row.optionalDouble(2) == nil { unfinished = GroupID(row.int64(0)) }
                }
                return unfinished.map(Node.stored)
            }
        case .stored(let id):
            var next: [Node] = []
            try db.cachedStatement(sql: TransitionSQL.waitingDependenciesSQL).forEachRow { $0.add(id.rawValue) } _: { row in
                if let target = row.optionalInt(1) {
                    next.append(.stored(GroupID(Int64(target))))
                } else if let index = batch[row.string(0)] {
                    next.append(.call(index))
                }
            }
            return next
        }
    }

    /// Whether a stored dependency waits for the next group submitted with `key`.
    private func waitsForNext(key: String) throws -> Bool {
        var waits = false
        try db.cachedStatement(sql: TransitionSQL.waitsForKeySQL).forEachRow { $0.add(key) } _: { _ in waits = true }
        return waits
    }

    private func cycleError(_ cycle: [Node], _ groups: [NewGroup]) throws -> ActyError {
        var keys: [String] = []
        for node in cycle {
            switch node {
            case .call(let index): keys.append(groups[index].key)
            case .stored(let id): keys.append(try groupRow(id).key)
            }
        }
        let refused = cycle.compactMap { if case .call(let index) = $0 { index } else { nil } }.min() ?? 0
        let printed = keys.joined(separator: " → ")
        let message = keys.count == 2
            ? "group '\(keys[0])' depends on itself (\(printed)): a group cannot wait for itself"
            : "the dependencies of group '\(groups[refused].key)' would close a cycle (\(printed)): no group of it could ever run"
        return ActyError(.dependencyCycle, message).refusing(group: refused, of: groups.count, key: groups[refused].key)
    }
}

extension TransitionSQL {
    /// A stored group's waiting dependencies: the key, and the group it names once known.
    static let waitingDependenciesSQL = """
        SELECT dependency_key, dependency_id FROM group_dependencies WHERE group_id = ? AND state = 'waiting'
        """

    /// Whether a dependency waits for the next group with a key (`group_dependencies_waiting_key`).
    static let waitsForKeySQL = """
        SELECT 1 FROM group_dependencies WHERE dependency_key = ? AND state = 'waiting' AND dependency_id IS NULL LIMIT 1
        """
}
