import ActyCore
@testable import ActyStore
import Foundation
import GRDB
import Testing

@Suite(.timeLimit(.minutes(1)))
struct MigrationTests {
    static var initial: Migration { Migration.all.first { $0.version == 1 }! }

    /// Names declared by `CREATE TABLE name` or `CREATE [UNIQUE] INDEX name` statements.
    static func declaredNames(_ kind: String, in sql: String) -> Set<String> {
        let pattern = kind == "table" ? #/CREATE TABLE (\w+)/# : #/CREATE (?:UNIQUE )?INDEX (\w+)/#
        return Set(sql.matches(of: pattern).map { String($0.output.1) })
    }

    static func schemaNames(_ kind: String, in db: Database) throws -> Set<String> {
        try String.fetchSet(db, sql: "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%'", arguments: [kind])
    }

    static func expectRefused(_ path: String, code: ActyError.Code, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let store = try Store(.file(path))
            try? store.close()
            Issue.record("opening \(path) should have failed with \(code)", sourceLocation: sourceLocation)
        } catch let error as ActyError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected an ActyError, got \(error)", sourceLocation: sourceLocation)
        }
    }

    static func bytes(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    // MARK: - New and existing files

    @Test func newFileGetsEveryTableAndIndexOfTheInitialMigration() async throws {
        try await withStore { store, _ in
            let expectedTables = Self.declaredNames("table", in: Self.initial.sql)
            let expectedIndexes = Self.declaredNames("index", in: Self.initial.sql)
            #expect(expectedTables == ["lanes", "groups", "jobs", "attempts", "cache_entries", "events", "workers"])
            #expect(expectedIndexes.contains("jobs_ready"))

            let (tables, indexes) = try await store.database.read { db in
                (try Self.schemaNames("table", in: db), try Self.schemaNames("index", in: db))
            }
            #expect(tables == expectedTables.union(["schema_migrations"]))
            #expect(expectedIndexes.isSubset(of: indexes))
        }
    }

    @Test func newFileRecordsTheMigrationOnce() async throws {
        try await withStore { store, _ in
            let rows = try store.database.read { try Row.fetchAll($0, sql: "SELECT version, name, applied_at FROM schema_migrations") }
            #expect(rows.count == 1)
            #expect(rows.first?["version"] == 1)
            #expect(rows.first?["name"] == "initial")
            #expect(abs((rows.first?["applied_at"] as Double? ?? 0) - now) < 60)
            #expect(Store.schemaVersion == 1)
            #expect(try await store.appliedSchemaVersion() == 1)
        }
    }

    @Test func reopeningDoesNotApplyMigrationsAgain() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/acty.db"
            let first = try Store(.file(path))
            let before = try first.database.write { db -> Row? in
                try db.execute(sql: "INSERT INTO lanes (name, weight, created_at, updated_at) VALUES ('kept', 3, 0, 0)")
                return try Row.fetchOne(db, sql: "SELECT version, name, applied_at FROM schema_migrations")
            }
            try first.close()

            let second = try Store(.file(path))
            defer { try? second.close() }
            let (rows, lanes) = try second.database.read { db in
                (
                    try Row.fetchAll(db, sql: "SELECT version, name, applied_at FROM schema_migrations"),
                    try String.fetchAll(db, sql: "SELECT name FROM lanes")
                )
            }
            #expect(rows == [before])
            #expect(lanes == ["kept"])
        }
    }

    @Test func emptyFileIsMigrated() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/empty.db"
            #expect(FileManager.default.createFile(atPath: path, contents: Data()))
            let store = try Store(.file(path))
            defer { try? store.close() }
            #expect(try await store.appliedSchemaVersion() == 1)
        }
    }

    // MARK: - Refused files

    @Test func databaseOfNewerSchemaIsRefusedUnchanged() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/acty.db"
            try Store(.file(path)).close()
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
            }
            try queue.close()
            let before = try Self.bytes(path)

            Self.expectRefused(path, code: .incompatibleSchema)
            #expect(try Self.bytes(path) == before)

            let check = try DatabaseQueue(path: path)
            defer { try? check.close() }
            #expect(try await check.read { try Int.fetchOne($0, sql: "SELECT MAX(version) FROM schema_migrations") } == 999)
        }
    }

    @Test func refusalOfNewerSchemaSaysToUpgrade() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/acty.db"
            try Store(.file(path)).close()
            let queue = try DatabaseQueue(path: path)
            try await queue.write { try $0.execute(sql: "INSERT INTO schema_migrations VALUES (999, 'future', 0)") }
            try queue.close()
            let error = try #require(throws: ActyError.self) { try Store(.file(path)) }
            #expect(error.message.contains("999"))
            #expect(error.message.contains("newer"))
        }
    }

    @Test func sqliteFileWithUnrelatedTablesIsRefusedUnchanged() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/other.db"
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('ada')")
            }
            try queue.close()
            let before = try Self.bytes(path)

            Self.expectRefused(path, code: .incompatibleSchema)
            #expect(try Self.bytes(path) == before)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(leftovers == ["other.db"])
        }
    }

    @Test func pathInMissingFolderIsUnavailable() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/missing/folder/acty.db"
            Self.expectRefused(path, code: .databaseUnavailable)
            #expect(!FileManager.default.fileExists(atPath: directory + "/missing"))
        }
    }

    @Test func fileThatIsNotSQLiteIsRefusedWithItsPath() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/random.bin"
            var generator = SystemRandomNumberGenerator()
            var bytes = (0..<8192).map { _ in UInt8.random(in: 0...255, using: &generator) }
            bytes[0] = 0x42  // never the "SQLite format 3" header
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))

            let error = try #require(throws: ActyError.self) { try Store(.file(path)) }
            #expect(error.code == .databaseUnavailable)
            #expect(error.message.contains(path))
            #expect(error.description.contains("not a SQLite database"))
            #expect(try Self.bytes(path) == Data(bytes))
        }
    }

    // MARK: - Connection settings

    @Test(arguments: [(Durability.power, 2), (Durability.process, 1)])
    func durabilitySetsSynchronousOnTheWriter(durability: Durability, synchronous: Int) async throws {
        try await withStore(durability: durability) { store, _ in
            let (writerValue, journalMode) = try await store.database.writeWithoutTransaction { db in
                (try Int.fetchOne(db, sql: "PRAGMA synchronous"), try String.fetchOne(db, sql: "PRAGMA journal_mode"))
            }
            #expect(writerValue == synchronous)
            #expect(journalMode == "wal")
        }
    }

    @Test func writerKeepsItsSynchronousSettingAcrossWrites() async throws {
        try await withStore(durability: .power) { store, _ in
            _ = try await store.submitGroup(.closed("g"), worker: "w")
            let value = try await store.database.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") }
            #expect(value == 2)
        }
    }

    @Test func foreignKeysAreEnforced() async throws {
        try await withStore { store, _ in
            let enabled = try await store.database.read { try Bool.fetchOne($0, sql: "PRAGMA foreign_keys") }
            #expect(enabled == true)
        }
    }
}
