import ActyCore
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// The database file alone (without its `-wal` and `-shm`) is a usable copy of a live store: the schema from the
/// start, and committed work once the writer has been quiet for a moment.
@Suite(.timeLimit(.minutes(1)))
struct StoreFileCopyTests {
    /// Copies only the database file of `path` into a folder of its own and opens the copy.
    static func openCopyOfFileAlone(_ path: String, in directory: String) throws -> DatabaseQueue {
        let copy = directory + "/copy-\(UUID().uuidString).db"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        return try DatabaseQueue(path: copy)
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
    }

    @Test func aNewStoresFileAloneHoldsTheSchema() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/acty.db"
            let store = try Store(.file(path))
            defer { try? store.close() }
            let copy = try Self.openCopyOfFileAlone(path, in: directory)
            defer { try? copy.close() }
            let (version, jobs) = try await copy.read { db in
                (try SchemaMigrator.appliedVersion(db), try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs"))
            }
            #expect(version == Store.schemaVersion)
            #expect(jobs == 0)
        }
    }

    @Test func theFileAloneHoldsCommittedWorkOnceTheStoreIsQuiet() async throws {
        try await withStore { store, path in
            for index in 0..<50 {
                _ = try await store.submitGroup(.closed("g-\(index)", followers: 2), worker: "w1")
            }
            // The quiet writer's log is copied into the file and emptied.
            try await waitUntil(timeout: .seconds(20), "the log to be emptied") { Self.size(path + "-wal") == 0 }
            let copy = try Self.openCopyOfFileAlone(path, in: (path as NSString).deletingLastPathComponent)
            defer { try? copy.close() }
            let (groups, jobs) = try await copy.read { db in
                (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM groups"), try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs"))
            }
            #expect(groups == 50)
            #expect(jobs == 150)
        }
    }
}
