import ActyCore
@testable import ActyStore
import Foundation
import Testing

/// The database, its WAL and its shared-memory file are created for their owner only; an existing file keeps its mode.
@Suite(.timeLimit(.minutes(1)))
struct FileModeTests {
    static func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func newDatabaseWALAndSharedMemoryFilesAreOwnerOnly() async throws {
        try await withStore { store, path in
            _ = try await store.submitGroup(NewGroup(key: "g", lane: "default", primer: .echo(), followers: [], isClosed: true), worker: nil)
            for file in [path, path + "-wal", path + "-shm"] {
                #expect(try Self.mode(file) == 0o600, "\(file)")
            }
        }
    }

    @Test func existingDatabaseKeepsItsMode() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/acty.db"
            try await Store(.file(path)).close()
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
            let store = try Store(.file(path))
            defer { try? store.close() }
            _ = try await store.submitGroup(NewGroup(key: "g", lane: "default", primer: .echo(), followers: [], isClosed: true), worker: nil)
            #expect(try Self.mode(path) == 0o640)
            #expect(try Self.mode(path + "-wal") == 0o640)
        }
    }

    @Test func privateFileIsCreatedOnceAndLeftAloneAfterwards() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/file"
            #expect(try PrivateFile.createIfMissing(path))
            #expect(try Self.mode(path) == 0o600)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            #expect(try PrivateFile.createIfMissing(path) == false)
            #expect(try Self.mode(path) == 0o644)
            #expect(throws: POSIXError.self) { try PrivateFile.createIfMissing(directory + "/missing/file") }
        }
    }
}
