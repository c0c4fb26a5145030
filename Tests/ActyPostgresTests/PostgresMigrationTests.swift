import ActyCore
@testable import ActyPostgres
@testable import ActyStore
import ActyTestSupport
import GRDB
import Testing

@Suite(.postgres) struct PostgresMigrationTests {
    @Test func freshDatabaseReachesTheLatestVersion() async throws {
        try await withWriter { writer, _ in
            let (version, tables, uncollated) = try await writer.perform { connection in
                try PostgresSchemaMigrator.migrate(connection)
                return (
                    try PostgresSchemaMigrator.appliedVersion(connection),
                    try connection.strings("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename").map { $0[0] },
                    try connection.strings("""
                        SELECT table_name || '.' || column_name FROM information_schema.columns
                        WHERE table_schema = current_schema() AND data_type = 'text' AND table_name != 'schema_migrations'
                            AND collation_name IS DISTINCT FROM 'C'
                        """)
                )
            }
            #expect(version == 12)
            // Text sorts by its bytes, as in SQLite, whatever the database's default collation.
            #expect(uncollated == [])
            #expect(PostgresSchemaMigrator.latestVersion == SchemaMigrator.latestVersion)
            #expect(tables == [
                "admission_state", "attempts", "cache_entries", "events", "group_dependencies", "groups", "jobs", "lanes",
                "producer_leases", "rate_limits", "schema_migrations", "workers",
            ])
        }
    }

    /// The same tables, columns (name, order, type, nullability), and indexes (name, uniqueness, partial or not) as
    /// SQLite's migrations produce.
    @Test func schemaMatchesSQLites() async throws {
        let sqlite = try DatabaseQueue()
        try sqlite.inDatabase { try SchemaMigrator.migrate($0) }
        let expected = try await sqlite.read { db in
            var columns: [String] = []
            var indexes: [String] = []
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            for table in tables {
                for column in try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))") {
                    let type: String = column["type"]
                    let postgresType = ["INTEGER": "bigint", "REAL": "double precision", "TEXT": "text"][type] ?? type
                    let notNull = (column["notnull"] as Int) == 1 || (column["pk"] as Int) > 0
                    columns.append("\(table).\(column["name"] as String) \(postgresType)\(notNull ? " not null" : "")")
                }
                for index in try Row.fetchAll(db, sql: "PRAGMA index_list(\(table))") where (index["origin"] as String) == "c" {
                    indexes.append("\(table).\(index["name"] as String) unique=\(index["unique"] as Int) partial=\(index["partial"] as Int)")
                }
            }
            return (columns, indexes.sorted())
        }
        try await withWriter { writer, _ in
            let (columns, indexes) = try await writer.perform { connection in
                try PostgresSchemaMigrator.migrate(connection)
                let columns = try connection.strings("""
                    SELECT table_name || '.' || column_name || ' ' || data_type || CASE is_nullable WHEN 'NO' THEN ' not null' ELSE '' END
                    FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
                    """).map { $0[0] }
                let indexes = try connection.strings("""
                    SELECT t.relname || '.' || i.relname || ' unique=' || x.indisunique::int || ' partial=' || (x.indpred IS NOT NULL)::int
                    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
                    JOIN pg_namespace n ON n.oid = t.relnamespace
                    WHERE n.nspname = current_schema() AND NOT x.indisprimary
                    """).map { $0[0] }
                return (columns, indexes.sorted())
            }
            #expect(columns == expected.0)
            #expect(indexes == expected.1)
        }
    }

    @Test func migratingAgainChangesNothing() async throws {
        try await withWriter { writer, _ in
            let (first, second) = try await writer.perform { connection in
                try PostgresSchemaMigrator.migrate(connection)
                let first = try connection.strings("SELECT version, applied_at FROM schema_migrations ORDER BY version")
                try PostgresSchemaMigrator.migrate(connection)
                return (first, try connection.strings("SELECT version, applied_at FROM schema_migrations ORDER BY version"))
            }
            #expect(first.count == 12)
            #expect(second == first)
        }
    }

    @Test func twoMigratorsAtOnceMigrateOnce() async throws {
        try await PostgresTestServer.withDatabase { url in
            try await withWriter(url: url) { first in
                try await withWriter(url: url) { second in
                    async let one: Void = first.perform { try PostgresSchemaMigrator.migrate($0) }
                    async let two: Void = second.perform { try PostgresSchemaMigrator.migrate($0) }
                    _ = try await (one, two)
                    let versions = try await first.perform { try $0.strings("SELECT version FROM schema_migrations ORDER BY version") }
                    #expect(versions.map { Int($0[0]) } == Array(1...12))
                }
            }
        }
    }

    @Test func newerSchemaIsRefusedAndLeftAlone() async throws {
        try await withWriter { writer, _ in
            let result = try await writer.perform { connection in
                try connection.execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
                try connection.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
                let error = thrownError { try PostgresSchemaMigrator.migrate(connection) }
                let tables = try connection.integer("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()")
                let versions = try connection.strings("SELECT version FROM schema_migrations")
                return (error, tables, versions)
            }
            guard let error = result.0 else {
                Issue.record("a version-99 database was migrated")
                return
            }
            #expect(error.code == .incompatibleSchema)
            #expect(error.message.contains("schema version 99") && error.message.contains("versions up to 12"))
            #expect(result.1 == 1)
            #expect(result.2 == [["99"]])
        }
    }

    @Test func foreignDatabaseIsRefused() async throws {
        try await withWriter { writer, _ in
            let error = try await writer.perform { connection in
                try connection.execute("CREATE TABLE invoices (id BIGINT)")
                return thrownError { try PostgresSchemaMigrator.migrate(connection) }
            }
            guard let error else {
                Issue.record("a database with other tables was migrated")
                return
            }
            #expect(error.code == .incompatibleSchema && error.message.contains("not an Acty database"))
        }
    }
}
