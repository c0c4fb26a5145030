package import ActyCore
package import GRDB

/// An Acty database: the single writer with group commit, the state rules of jobs and groups, and the reads the
/// engine makes, on any ``StorageBackend``.
///
/// All writes go through one connection that batches concurrent requests into shared transactions (see
/// ``write(worker:_:committed:)``); reads use the backend's reader connections, so readers never wait for the
/// writer.
package final class BackendStore<Backend: StorageBackend>: Sendable {
    /// The database under the store.
    package let backend: Backend
    let writer: GroupCommitWriter<Backend.Queue>
    /// What the running batch wrote, for its tail: events for the observer, effects for the dispatch.
    let batch: BatchRecorder<Backend.Queue.Connection>

    /// The seq of the newest event this store knows of: the log's end when it opened, then its own commits' last
    /// events. Other processes' events after it are not counted until read.
    package var lastKnownEventSeq: Int64 { batch.lastCommittedEventSeq }

    /// A store on an opened and migrated database.
    ///
    /// - Parameters:
    ///   - lastEventSeq: the seq of the newest event in the database.
    ///   - eventObserver: receives every committed event, in commit order, on the writer thread; keep it short.
    package init(backend: Backend, lastEventSeq: Int64, eventObserver: (@Sendable ([EventRecord]) -> Void)? = nil) {
        self.backend = backend
        batch = BatchRecorder(eventObserver: eventObserver, lastEventSeq: lastEventSeq)
        writer = GroupCommitWriter(queue: backend.writerQueue, tail: batch)
    }

    /// A store on an opened and migrated database, starting from the newest event in it.
    package convenience init(backend: Backend, eventObserver: (@Sendable ([EventRecord]) -> Void)? = nil) async throws {
        let lastEventSeq = try await backend.read { db in
            try db.fetchOne({ $0.optionalInt64(0) }, sql: ReadOnlyStore.lastEventSeqSQL).flatMap { $0 } ?? 0
        }
        self.init(backend: backend, lastEventSeq: lastEventSeq, eventObserver: eventObserver)
    }

    /// Closes the database connections, waiting on a dispatch thread.
    package func close() async throws {
        try await backend.close()
    }

    /// Whether an error the store threw means the database could not be written at the time (a full disk, a
    /// read-only file system, an I/O error, a lock held past the busy timeout), rather than anything about the
    /// request: writing the same thing later may well succeed.
    package func isWriteFault(_ error: any Error) -> Bool {
        backend.writerQueue.isWriteFault(error)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Backend.Reader) throws -> T) async throws -> T {
        try await backend.read(body)
    }
}

/// The SQL of the store's reads, apart from the generic ``BackendStore`` (which cannot hold static stored
/// properties).
enum StoreSQL {}

/// The store on a SQLite file or in memory: the one the engine and the tools open.
package typealias Store = BackendStore<SQLiteBackend>

extension BackendStore where Backend == SQLiteBackend {
    /// Opens (creating if needed) and migrates a SQLite database (see ``SQLiteBackend``).
    ///
    /// - Parameter eventObserver: receives every committed event, in commit order, on the writer thread.
    /// - Throws: ``ActyError`` with code `databaseUnavailable`, `databaseReadOnly` or `incompatibleSchema`.
    package convenience init(
        _ location: DatabaseLocation,
        durability: Durability = .process,
        busyTimeout: Duration = .seconds(10),
        eventObserver: (@Sendable ([EventRecord]) -> Void)? = nil
    ) throws {
        let backend = try SQLiteBackend(location, durability: durability, busyTimeout: busyTimeout)
        let lastEventSeq = try backend.database.read { try Int64.fetchOne($0, sql: ReadOnlyStore.lastEventSeqSQL) ?? 0 }
        self.init(backend: backend, lastEventSeq: lastEventSeq, eventObserver: eventObserver)
    }

    /// Where the database lives.
    package var location: DatabaseLocation { backend.location }
    /// The durability the writer commits with.
    package var durability: Durability { backend.durability }
    /// The database file, or `nil` in memory.
    package var path: String? { backend.path }
    /// GRDB's connections, for tests that look at the file directly.
    package var database: any DatabaseWriter { backend.database }

    /// Closes the database connections. Pending writes finish first.
    package func close() throws {
        try backend.close()
    }

    /// The newest schema version this build knows.
    package static var schemaVersion: Int { SQLiteBackend.schemaVersion }
    /// The SQLite page cache of each connection, in KiB.
    package static var pageCacheKiB: Int { SQLiteBackend.pageCacheKiB }
    /// WAL sizes (in frames) at which a background checkpoint starts, and at which the writer checkpoints itself.
    package static var checkpointFrames: (background: Int, writer: Int) { SQLiteBackend.checkpointFrames }
    /// The most bytes one text value (a payload, an output) may have.
    package static var maximumTextBytes: Int { SQLiteBackend.maximumTextBytes }
}
