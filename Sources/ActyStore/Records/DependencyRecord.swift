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

    init(row: Row) throws {
        groupID = GroupID(row[0])
        dependencyKey = row[1]
        dependencyID = (row[2] as Int64?).map(GroupID.init)
        policy = try decodeEnum(row[3], table: "group_dependencies")
        timeout = row[4]
        dueAt = row[5]
        state = row[6]
        outcome = try (row[7] as String?).map { try decodeEnum($0, table: "group_dependencies") }
        createdAt = row[8]
        resolvedAt = row[9]
    }
}

extension Store {
    /// The dependencies of a group, in key order.
    package func dependencies(ofGroup id: GroupID) async throws -> [DependencyRecord] {
        try await read {
            try $0.fetchAll(
                DependencyRecord.init, sql: DependencyRecord.selection + " WHERE group_id = ? ORDER BY dependency_key", arguments: [id.rawValue]
            )
        }
    }
}
