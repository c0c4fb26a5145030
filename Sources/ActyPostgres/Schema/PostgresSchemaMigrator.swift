import ActyCore
import ActyStore
import Foundation

/// Applies the embedded PostgreSQL migrations in order, each in its own transaction, and records them in
/// `schema_migrations`, whose versions mean what SQLite's do (the same number is the same schema).
///
/// A session-level advisory lock serialises migrators across processes: of two engines starting at once on a new
/// database, one migrates and the other then finds nothing left to do. A database written by a newer schema is
/// refused without being changed. Every call blocks until PostgreSQL answered: run it on the writer's thread.
package enum PostgresSchemaMigrator {
    /// The advisory lock held while migrating (the ASCII of "actymigr"); writers take another one.
    static let migrationLockKey: Int64 = 0x6163_7479_6D69_6772

    /// The newest schema version this build knows.
    package static var latestVersion: Int { Migration.all.last?.version ?? 0 }

    /// The version recorded in the database, or 0 for a database without Acty tables.
    ///
    /// - Throws: ``ActyError/Code/incompatibleSchema`` when the database's schema has tables but no
    ///   `schema_migrations` (it is not an Acty database).
    package static func appliedVersion(_ connection: PostgresWriterConnection) throws -> Int {
        var version = 0
        var tables = 0
        try connection.cachedStatement(sql: """
            SELECT (SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'),
                   (SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema())
            """).forEachRow { _ in } _: { row in
            version = row.int(0)
            tables = row.int(1)
        }
        if version > 0 {
            try connection.cachedStatement(sql: "SELECT MAX(version) FROM schema_migrations").forEachRow { _ in } _: { row in
                version = row.int(0)
            }
            return version
        }
        if tables > 0 {
            throw ActyError(.incompatibleSchema, "the database has tables but no schema_migrations table: it is not an Acty database")
        }
        return 0
    }

    /// Refuses a database written by a newer schema, without changing it.
    package static func checkCompatible(_ connection: PostgresWriterConnection) throws {
        let version = try appliedVersion(connection)
        if version > latestVersion {
            throw ActyError(
                .incompatibleSchema,
                "the database has schema version \(version) but this build of Acty knows versions up to \(latestVersion): use a newer Acty"
            )
        }
    }

    /// Brings the database up to ``latestVersion``, one transaction per migration, under the migration lock.
    ///
    /// - Throws: ``ActyError/Code/incompatibleSchema`` for a newer or foreign database (left as it was); the
    ///   error of a failed migration, whose transaction is rolled back, leaving the database at the version before.
    package static func migrate(_ connection: PostgresWriterConnection) throws {
        try connection.execute("SELECT pg_advisory_lock(\(migrationLockKey))")
        defer { try? connection.execute("SELECT pg_advisory_unlock(\(migrationLockKey))") }
        let current = try appliedVersion(connection)
        try checkCompatible(connection)
        for migration in Migration.all where migration.version > current {
            try apply(migration, connection)
        }
    }

    private static func apply(_ migration: Migration, _ connection: PostgresWriterConnection) throws {
        try connection.execute("BEGIN")
        do {
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)
                """)
            for statement in PostgresSQLText.statements(in: migration.sql) {
                try connection.execute(statement)
            }
            try connection.cachedStatement(sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run {
                $0.add(migration.version)
                $0.add(migration.name)
                $0.add(WallClock.now)
            }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            let name = "\(String(format: "%04d", migration.version))_\(migration.name)"
            throw ActyError(
                (error as? ActyError)?.code ?? .storage,
                "PostgreSQL migration \(name) failed and was rolled back; the database stays at version \(migration.version - 1): \(error)",
                cause: error
            )
        }
    }
}
