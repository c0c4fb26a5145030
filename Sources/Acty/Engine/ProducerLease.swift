import ActyStore

extension OpenGroup {
    /// Takes a producer lease on the group: while several producers feed it, each holds a lease, and the group
    /// closes when the last one is released.
    ///
    /// ```swift
    /// let group = try await engine.openGroup("crawl-2026-12-05")
    /// try await withThrowingTaskGroup(of: Void.self) { tasks in
    ///     for shard in shards {
    ///         let lease = try await group.producerLease()
    ///         tasks.addTask {
    ///             for page in shard { try await group.submit(page) }
    ///             try await lease.release()            // the last release closes the group
    ///         }
    ///     }
    ///     try await tasks.waitForAll()
    /// }
    /// ```
    ///
    /// Leases are stored in the database and belong to this engine process: when it stops, or dies and another
    /// engine notices, its leases end too, so a crashed producer does not hold the group open forever. Closing the
    /// group while leases are held is allowed; releasing them afterwards does nothing more.
    ///
    /// - Throws: ``ActyError/Code/groupClosed`` unless the group is open.
    public func producerLease() async throws -> ProducerLease {
        try engine.checkRunning()
        let id = try await engine.store.acquireProducerLease(on: self.id, worker: engine.workerID)
        return ProducerLease(engine: engine, id: id, groupKey: key)
    }

    /// Runs `body` holding a producer lease on the group, and releases the lease when `body` returns or throws.
    public func withProducerLease<T>(_ body: () async throws -> T) async throws -> T {
        let lease = try await producerLease()
        let value: T
        do {
            value = try await body()
        } catch {
            _ = try? await lease.release()
            throw error
        }
        _ = try await lease.release()
        return value
    }
}

/// One producer's hold on an open group: see ``OpenGroup/producerLease()``.
public struct ProducerLease: Sendable {
    let engine: ActyEngine
    /// The lease's row id in `producer_leases`.
    public let id: Int64
    /// The key of the group it holds open.
    public let groupKey: String

    /// Ends the lease; the group closes when it was the last one. Releasing twice does nothing.
    ///
    /// - Returns: whether the lease was still held.
    @discardableResult
    public func release() async throws -> Bool {
        try await engine.store.releaseProducerLease(id, worker: engine.workerID)
    }
}
