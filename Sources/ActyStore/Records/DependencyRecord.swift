package import ActyCore
import GRDB

/// A row of the `group_dependencies` table: one dependency of a dependent group.
package struct DependencyRecord: Sendable, Hashable {
    /// The dependent group.
    package var groupID: GroupID
    /// The key of the group depended on.
    package var dependencyKey: String
    /// The group depended on, once known.
    package var dependencyID: GroupID?
    /// `on_done` or `require_success`.
    package var policy: GroupDependency.Policy
    /// The timeout in seconds, if any.
    package var timeout: Double?
    /// When the timeout is due.
    package var dueAt: Double?
    /// `waiting`, `done`, `timed_out` or `dropped`.
    package var state: String
    /// The final state of the group depended on, for a `done` dependency.
    package var outcome: GroupState?
    /// When the dependent started waiting for it.
    package var createdAt: Double
    /// When it was resolved.
    package var resolvedAt: Double?

    static let selection = """
        SELECT group_id, dependency_key, dependency_id, policy, timeout, due_at, state, outcome, created_at, resolved_at
        FROM group_dependencies
        """

    init(row: some SQLColumns) throws {
        groupID = GroupID(row.int64(0))
        dependencyKey = row.string(1)
        dependencyID = row.optionalInt64(2).map(GroupID.init)
        policy = try decodeEnum(row.string(3), table: "group_dependencies")
        timeout = row.optionalDouble(4)
        dueAt = row.optionalDouble(5)
        state = row.string(6)
        outcome = try row.optionalString(7).map { try decodeEnum($0, table: "group_dependencies") }
        createdAt = row.double(8)
        resolvedAt = row.optionalDouble(9)
    }
}

extension BackendStore {
    /// The dependencies of a group, in key order.
    package func dependencies(ofGroup id: GroupID) async throws -> [DependencyRecord] {
        try await read {
            try $0.fetchAll(
                DependencyRecord.init, sql: DependencyRecord.selection + " WHERE group_id = ? ORDER BY dependency_key", arguments: [id.rawValue]
            )
        }
    }
}
