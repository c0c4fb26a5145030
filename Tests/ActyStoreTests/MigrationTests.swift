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
            // Later migrations add `group_dependencies` (0004), `producer_leases` (0006), `admission_state` (0008) and
            // `rate_limits` (0010).
            #expect(
                tables == expectedTables.union(["schema_migrations", "group_dependencies", "producer_leases", "admission_state", "rate_limits"])
            )
            #expect(expectedIndexes.isSubset(of: indexes))
        }
    }

    @Test func newFileRecordsTheMigrationOnce() async throws {
        try await withStore { store, _ in
            let rows = try store.database.read {
                try Row.fetchAll($0, sql: "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
            }
            #expect(rows.map { $0["version"] as Int } == Migration.all.map(\.version))
            #expect(rows.first?["name"] == "initial")
            #expect(rows.allSatisfy { abs(($0["applied_at"] as Double? ?? 0) - now) < 60 })
            #expect(Store.schemaVersion == 12)
            #expect(try await store.appliedSchemaVersion() == Store.schemaVersion)
        }
    }

    @Test func reopeningDoesNotApplyMigrationsAgain() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/acty.db"
            let first = try Store(.file(path))
            let before = try first.database.write { db -> [Row] in
                try db.execute(sql: "INSERT INTO lanes (name, weight, created_at, updated_at) VALUES ('kept', 3, 0, 0)")
                return try Row.fetchAll(db, sql: "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
            }
            try first.close()

            let second = try Store(.file(path))
            defer { try? second.close() }
            let (rows, lanes) = try second.database.read { db in
                (
                    try Row.fetchAll(db, sql: "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"),
                    try String.fetchAll(db, sql: "SELECT name FROM lanes")
                )
            }
            #expect(rows == before)
            #expect(lanes == ["kept"])
        }
    }

    @Test func closingAStoreThatWasReadLeavesNoWriteAheadLog() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/acty.db"
            let store = try Store(.file(path))
            _ = try await store.submitGroup(.closed("g"), worker: "w")
            _ = try await store.summary()
            try await store.close()
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
            let check = try DatabaseQueue(path: path)
            defer { try? check.close() }
            #expect(try await check.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM groups") } == 1)
        }
    }

    @Test func emptyFileIsMigrated() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/empty.db"
            #expect(FileManager.default.createFile(atPath: path, contents: Data()))
            let store = try Store(.file(path))
            defer { try? store.close() }
            #expect(try await store.appliedSchemaVersion() == Store.schemaVersion)
        }
    }

    // MARK: - Upgrades

    /// A file as a build that knew only the initial migration left it, with a finished group, a running one, an
    /// attempt and a cache entry.
    static func writeVersion1File(_ path: String) throws {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.write { db in
            try db.execute(sql: initial.sql)
            try db.execute(sql: """
                CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL);
                INSERT INTO schema_migrations VALUES (1, 'initial', 0);
                INSERT INTO lanes (name, weight, created_at, updated_at) VALUES ('default', 2, 0, 0);
                INSERT INTO groups (id, key, lane, state, primer_state, primer_policy, follower_policy, jobs_total, jobs_finished, created_at)
                    VALUES (1, 'done', 'default', 'succeeded', 'succeeded', 'fail_group', 'fail_group', 2, 2, 1),
                           (2, 'live', 'default', 'closed', 'pending', 'skip_followers', 'continue_group', 2, 0, 2);
                INSERT INTO jobs (id, group_id, role, follower_index, executor, lane, state, payload, attempts, created_at, result)
                    VALUES (10, 1, 'primer', NULL, 'echo', 'default', 'succeeded', '{"p":1}', 1, 1, '{"ok":true}'),
                           (11, 1, 'follower', 0, 'echo', 'default', 'succeeded', '{}', 1, 1, 'null'),
                           (20, 2, 'primer', NULL, 'echo', 'default', 'ready', '{}', 0, 2, NULL),
                           (21, 2, 'follower', 0, 'echo', 'default', 'blocked', '{}', 0, 2, NULL);
                INSERT INTO attempts (job_id, number, worker, pool, started_at, finished_at, outcome, duration)
                    VALUES (10, 1, 'w1', 'primer', 1, 1.5, 'succeeded', 0.5);
                INSERT INTO cache_entries (key, provider, fingerprint, provider_ref, state, created_at, updated_at)
                    VALUES ('k', 'prov', 'fp', 'ref-1', 'ready', 0, 0);
                INSERT INTO events (at, type, group_id, job_id) VALUES (1, 'job_succeeded', 1, 10);
                """)
        }
    }

    /// Runs `body` with a store that opened (and so upgraded) the file of ``writeVersion1File(_:)``.
    static func withUpgradedVersion1Store(_ body: (Store) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/v1.db"
            try writeVersion1File(path)
            let store = try Store(.file(path))
            defer { try? store.close() }
            try await body(store)
        }
    }

    @Test func version1FileIsUpgradedWithEveryRowKept() async throws {
        try await Self.withUpgradedVersion1Store { store in
            #expect(try await store.appliedSchemaVersion() == Store.schemaVersion)
            let (counts, payload, attempt, cacheRef, integrity, foreignKeys) = try store.database.read { db in
                (
                    try ["lanes", "groups", "jobs", "attempts", "cache_entries", "events"].map {
                        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \($0)")!
                    },
                    try String.fetchOne(db, sql: "SELECT payload FROM jobs WHERE id = 10"),
                    try Row.fetchOne(db, sql: "SELECT worker, outcome, duration FROM attempts WHERE job_id = 10 AND number = 1"),
                    try String.fetchOne(db, sql: "SELECT provider_ref FROM cache_entries WHERE key = 'k'"),
                    try String.fetchOne(db, sql: "PRAGMA integrity_check"),
                    try Bool.fetchOne(db, sql: "PRAGMA foreign_keys")
                )
            }
            #expect(counts == [1, 2, 4, 1, 1, 1])
            #expect(payload == #"{"p":1}"#)
            #expect(attempt?["worker"] == "w1")
            #expect(attempt?["outcome"] == "succeeded")
            #expect(cacheRef == "ref-1")
            #expect(integrity == "ok")
            #expect(foreignKeys == true)

            // The upgraded file works: the waiting group's primer is claimable and its follower still blocked.
            let group = try await store.group(key: "live")
            #expect(group?.state == .closed)
            let jobs = try await store.jobs(inGroup: GroupID(2))
            #expect(jobs.map(\.state) == [.ready, .blocked])
        }
    }

    @Test func upgradedTablesKeepTheirConstraintsAndCascades() async throws {
        try await Self.withUpgradedVersion1Store { store in
            try await store.database.writeWithoutTransaction { db in
                #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE jobs SET state = 'paused' WHERE id = 20") }
                #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE groups SET primer_state = 'maybe' WHERE id = 2") }
                #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE attempts SET outcome = 'lost'") }
                #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE cache_entries SET state = 'stale'") }
                #expect(throws: DatabaseError.self) {
                    try db.execute(sql: "INSERT INTO jobs (group_id, role, executor, lane, state, payload, created_at) VALUES (99, 'primer', 'echo', 'default', 'ready', '{}', 0)")
                }
                try db.execute(sql: "DELETE FROM groups WHERE id = 1")
                #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE group_id = 1") == 0)
                #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM attempts") == 0)
            }
        }
    }

    /// SQLite builds a temporary b-tree for `IN` lists of three or more constants each time a statement runs, and
    /// every write of a row checks its table's constraints: CHECK lists must be written as equality tests.
    @Test func checkConstraintsHaveNoInLists() async throws {
        try await withStore { store, _ in
            let tables = try store.database.read { db in
                try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            }
            #expect(tables.count == 12)
            for table in tables {
                let sql: String = table["sql"]
                let lists = sql.matches(of: #/CHECK\s*\([^\n]*\bIN\s*\(([^)]*)\)/#).filter { $0.output.1.split(separator: ",").count > 2 }
                #expect(lists.isEmpty, "table \(table["name"] as String): \(lists.map { String($0.output.0) })")
            }
        }
    }

    // MARK: - Refused files

    /// An Acty database whose `schema_migrations` says a newer build (version 999) wrote it.
    static func writeFutureSchemaFile(_ path: String) async throws {
        try await Store(.file(path)).close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
        }
        try queue.close()
    }

    @Test func databaseOfNewerSchemaIsRefusedUnchanged() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/acty.db"
            try await Self.writeFutureSchemaFile(path)
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
            try await Self.writeFutureSchemaFile(path)
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
