/// How the dispatcher paces its writes while the database cannot be written (a full disk, a read-only file system,
/// an I/O error, a lock held past the busy timeout): each failed try waits longer before the next, 10 ms doubling
/// up to 1 s, so a long outage costs a write a second instead of a busy loop, and a short one is over quickly.
struct WriteBackoff {
    static let shortest: Duration = .milliseconds(10)
    static let longest: Duration = .seconds(1)

    /// Writes that failed in a row.
    private(set) var failures = 0
    /// When the first of them was tried.
    private(set) var failingSince: ContinuousClock.Instant?

    /// Notes a write tried at `triedAt` that failed; returns how long to wait before the next try.
    mutating func failed(triedAt: ContinuousClock.Instant) -> Duration {
        if failingSince == nil { failingSince = triedAt }
        failures += 1
        return min(Self.shortest * (1 << min(failures - 1, 7)), Self.longest)
    }

    /// Notes a write that committed; returns how many had failed before it.
    mutating func succeeded() -> Int {
        defer {
            failures = 0
            failingSince = nil
        }
        return failures
    }

    /// Whether writes have been failing for at least `duration`.
    func hasFailed(for duration: Duration) -> Bool {
        failingSince.map { ContinuousClock.now - $0 >= duration } ?? false
    }
}
