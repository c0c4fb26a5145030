/// Where an Acty database lives.
public enum DatabaseLocation: Sendable, Hashable {
    /// A SQLite file, created when missing with mode `0600` (its owner only; SQLite gives the `-wal` and `-shm`
    /// files the same), whatever the umask. An existing file keeps its mode: `chmod` it to share the database with
    /// other users. Other processes may open it too.
    case file(String)
    /// A private in-memory database that disappears with the engine: for tests and throwaway runs.
    case inMemory
}

/// How much a committed write survives.
///
/// Related SQLite documentation: <https://www.sqlite.org/pragma.html#pragma_synchronous>
public enum Durability: String, Sendable, Hashable, CaseIterable {
    /// WAL with `synchronous = NORMAL`: commits survive a crash of the process (the default).
    case process
    /// WAL with `synchronous = FULL`: commits also survive power loss and OS crashes, at the cost of an fsync per
    /// commit.
    case power
}
