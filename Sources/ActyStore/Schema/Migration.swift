import ActyCore
import GRDB

/// One numbered schema change, embedded at build time from `migrations/NNNN_name.sql`.
struct Migration: Sendable {
    /// The schema version this migration produces.
    var version: Int
    /// The file name without number and extension.
    var name: String
    /// The statements to run.
    var sql: String
}

/// Applies the embedded migrations in order, each in its own transaction, and records them in `schema_migrations`.
enum SchemaMigrator {
    /// The newest schema version this build knows.
    static var latestVersion: Int { Migration.all.last?.version ?? 0 }

    /// The version recorded in a database, or 0 for a database without Acty tables.
    ///
    /// - Throws: ``ActyError/Code/incompatibleSchema`` when the file has tables but no `schema_migrations` (it is
    ///   not an Acty database).
    static func appliedVersion(_ db: Database) throws -> Int {
        if try db.tableExists("schema_migrations") {
            return try Int.fetchOne(db, sql: "SELECT MAX(version) FROM schema_migrations") ?? 0
        }
        let tables = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") ?? 0
        if tables > 0 {
            throw ActyError(.incompatibleSchema, "the database has tables but no schema_migrations table: it is not an Acty database")
        }
        return 0
    }

    /// Refuses a database written by a newer schema, without changing it.
    static func checkCompatible(_ db: Database) throws {
        let version = try appliedVersion(db)
        if version > latestVersion {
            throw ActyError(
                .incompatibleSchema,
                "the database has schema version \(version) but this build of Acty knows versions up to \(latestVersion): use a newer Acty"
            )
        }
    }

    /// Brings the database up to ``latestVersion`` in one `BEGIN IMMEDIATE` transaction, so two processes
    /// opening a new file at once cannot both migrate it, and a failed migration leaves the file as it was.
    ///
    /// Migrations run with foreign keys off, as SQLite's procedure for rebuilding a table asks: dropping the old
    /// table would otherwise delete its children through `ON DELETE CASCADE`. `PRAGMA foreign_key_check` runs
    /// before the commit instead, and refuses a migration that left a dangling reference.
    static func migrate(_ db: Database) throws {
        try db.execute(sql: "PRAGMA foreign_keys = OFF")
        do {
            try migrateWithoutForeignKeys(db)
        } catch {
            try? db.execute(sql: "PRAGMA foreign_keys = ON")
            throw error
        }
        try db.execute(sql: "PRAGMA foreign_keys = ON")
    }

    private static func migrateWithoutForeignKeys(_ db: Database) throws {
        try db.inTransaction(.immediate) {
            let current = try appliedVersion(db)
            try checkCompatible(db)
            guard current < latestVersion else { return .commit }
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)
                """)
            for migration in Migration.all where migration.version > current {
                try db.execute(sql: migration.sql)
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    arguments: [migration.version, migration.name, WallClock.now]
                )
            }
            if let dangling = try Row.fetchOne(db, sql: "PRAGMA foreign_key_check") {
                throw ActyError(
                    .incompatibleSchema,
                    "migrating to schema version \(latestVersion) left a row of \(dangling[0] as String? ?? "?") referring to a missing row of \(dangling[2] as String? ?? "?"); the file was not changed"
                )
            }
            return .commit
        }
    }
}
