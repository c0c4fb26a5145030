/// A database a ``BackendStore`` runs on: the half of the storage seam that opens, reads and closes it. The other
/// half, the connections the transitions and reads run their SQL on, is in `SQL/SQLConnection.swift`.
///
/// SQLite's is ``SQLiteBackend``; PostgreSQL's is in ActyPostgres.
package protocol StorageBackend: Sendable {
    associatedtype Queue: WriterQueue
    associatedtype Reader: SQLConnection

    /// The writer thread and its connection.
    var writerQueue: Queue { get }

    /// Runs `body` on a reader connection, in one read transaction, and returns its value. Readers never wait for
    /// the writer, and `body` runs off the concurrency pool's threads when it blocks.
    func read<T: Sendable>(_ body: @escaping @Sendable (Reader) throws -> T) async throws -> T

    /// Closes the connections. Pending writes finish first.
    func close() async throws
}
