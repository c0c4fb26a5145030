import ActyCore
import GRDB

extension ReadOnlyStore {
    /// Group dependencies, newest first. Columns: `group_key` (the dependent), `dependency_key`,
    /// `dependency_group_id` (once known), `policy` (`on_done`, `require_success`), `timeout` (seconds), `due_at`,
    /// `state` (`waiting`, `done`, `timed_out`, `dropped`), `outcome` (the dependency's final state, when done),
    /// `created_at`, `resolved_at`.
    ///
    /// - Parameters:
    ///   - state: only dependencies in this state.
    ///   - groupKey: only dependencies of groups with this key.
    package func dependencies(state: String? = nil, groupKey: String? = nil, limit: Int = 50) throws -> QueryTable {
        try read { db in
            try Self.table(db, Self.dependenciesSQL(ofGroup: false), [state, groupKey, limit])
        }
    }

    /// The dependencies query: of one group (`?1` its id), or filtered by state (`?1`) and dependent key (`?2`)
    /// with a limit (`?3`).
    static func dependenciesSQL(ofGroup: Bool) -> String {
        let filter =
            ofGroup
            ? "WHERE group_dependencies.group_id = ?1 ORDER BY group_dependencies.dependency_key"
            : """
            WHERE (?1 IS NULL OR group_dependencies.state = ?1) AND (?2 IS NULL OR groups.key = ?2)
            ORDER BY group_dependencies.created_at DESC, group_dependencies.group_id DESC, group_dependencies.dependency_key
            LIMIT ?3
            """
        return """
            SELECT groups.key AS group_key, group_dependencies.dependency_key, group_dependencies.dependency_id AS dependency_group_id,
                group_dependencies.policy, group_dependencies.timeout, group_dependencies.due_at, group_dependencies.state,
                group_dependencies.outcome, group_dependencies.created_at, group_dependencies.resolved_at
            FROM group_dependencies JOIN groups ON groups.id = group_dependencies.group_id
            \(filter)
            """
    }
}
