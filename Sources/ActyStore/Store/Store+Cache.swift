package import ActyCore

/// The cache registry's rules, each in the writer's next transaction (see `WriteContext+Cache.swift`).
extension BackendStore {
    /// Decides what a primer's worker does about its group's cache entry: use it, create it, or wait.
    package func acquireCache(
        key: String, provider: String, fingerprint: String, owner: String, leaseUntil: Double, group: GroupID?
    ) async throws -> CacheAcquisition {
        try await write(worker: Self.worker(ofOwner: owner)) {
            try $0.acquireCache(key: key, provider: provider, fingerprint: fingerprint, owner: owner, leaseUntil: leaseUntil, group: group)
        }.0
    }

    /// Marks an entry the worker created as ready. Returns `false` when another worker took the creation over.
    package func cacheReady(key: String, owner: String, providerRef: String?, timeToLive: Double?, group: GroupID?) async throws -> Bool {
        try await write(worker: Self.worker(ofOwner: owner)) {
            try $0.cacheReady(key: key, owner: owner, providerRef: providerRef, timeToLive: timeToLive, group: group)
        }.0
    }

    /// Removes the `creating` row of a creation that failed.
    package func abandonCacheCreation(key: String, owner: String) async throws {
        _ = try await write(worker: Self.worker(ofOwner: owner)) { try $0.abandonCacheCreation(key: key, owner: owner) }
    }

    /// Invalidates a ready entry if it still has this reference. Returns whether this call invalidated it.
    package func invalidateCache(key: String, providerRef: String?, reason: String, group: GroupID?, worker: String?) async throws -> Bool {
        try await write(worker: worker) {
            try $0.invalidateCache(key: key, providerRef: providerRef, reason: reason, group: group)
        }.0
    }

    /// Sets a ready entry's provider reference (compare-and-set against `expected` unless `replace`).
    package func attachCacheRef(
        key: String, providerRef: String, expected: String?, replace: Bool, group: GroupID?, worker: String?
    ) async throws -> Bool {
        try await write(worker: worker) {
            try $0.attachCacheRef(key: key, providerRef: providerRef, expected: expected, replace: replace, group: group)
        }.0
    }

    /// The worker id of a creation's owner (`<worker>:<job>`): the events it writes name the engine, like all others.
    private static func worker(ofOwner owner: String) -> String {
        owner.lastIndex(of: ":").map { String(owner[..<$0]) } ?? owner
    }
}
