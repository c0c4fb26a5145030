import ActyCore

/// What a primer's worker must do about its group's cache entry.
package enum CacheAcquisition: Sendable, Hashable {
    /// The entry is ready and valid: use this provider reference.
    case hit(providerRef: String?)
    /// This worker now owns the entry's creation (a `creating` row leased to it). When `invalidate` names a
    /// reference, the provider should release it first: the entry it belonged to expired or no longer matched.
    case create(invalidate: String?)
    /// Another worker is creating the entry; ask again shortly.
    case wait
}

extension WriteContext {
    /// Looks at the cache entry of `key` for a primer about to run, and decides: use it, create it, or wait.
    /// `owner` names the creating attempt as `<worker>:<job>`.
    ///
    /// Creation is single-flight per key across processes: the first primer turns the row into `creating`, leased
    /// to its worker until `leaseUntil`; others wait until it is `ready`, or take over once that lease expired
    /// (the creator died). A ready entry whose fingerprint differs, or that expired, is replaced.
    mutating func acquireCache(
        key: String, provider: String, fingerprint: String, owner: String, leaseUntil: Double, group: GroupID?
    ) throws -> CacheAcquisition {
        guard let entry = try cacheEntry(key) else {
            try db.cachedStatement(sql: TransitionSQL.insertCreatingSQL).run {
                $0.add(key); $0.add(provider); $0.add(fingerprint); $0.add(owner); $0.add(leaseUntil); $0.add(now); $0.add(now)
            }
            return .create(invalidate: nil)
        }
        switch entry.state {
        case "ready":
            if let expiresAt = entry.expiresAt, expiresAt <= now {
                try record(.cacheExpired, group: group, data: Self.cacheData(key: key, provider: entry.provider))
            } else if entry.fingerprint != fingerprint || entry.provider != provider {
                try record(.cacheInvalidated, group: group, data: Self.cacheData(key: key, provider: entry.provider, reason: "fingerprint_changed"))
            } else {
                try db.cachedStatement(sql: TransitionSQL.cacheHitSQL).run { $0.add(now); $0.add(key) }
                try record(.cacheHit, group: group, data: Self.cacheData(key: key, provider: provider))
                try setGroupCacheRef(entry.providerRef, group: group)
                return .hit(providerRef: entry.providerRef)
            }
            try takeOver(key: key, provider: provider, fingerprint: fingerprint, owner: owner, leaseUntil: leaseUntil)
            return .create(invalidate: entry.providerRef)
        case "creating" where entry.owner != owner && (entry.leaseUntil ?? 0) > now:
            return .wait
        default:
            // Invalid, or being created by a worker whose lease ran out (or by this one, retrying).
            try takeOver(key: key, provider: provider, fingerprint: fingerprint, owner: owner, leaseUntil: leaseUntil)
            return .create(invalidate: nil)
        }
    }

    /// Marks an entry this worker created as ready, with the provider's reference.
    ///
    /// - Returns: `false` when the worker no longer owned the creation (its lease expired and another took over).
    ///
    /// - Parameter timeToLive: seconds the entry stays valid from now; `nil` for no limit.
    mutating func cacheReady(key: String, owner: String, providerRef: String?, timeToLive: Double?, group: GroupID?) throws -> Bool {
        var provider: String?
        let expiresAt = timeToLive.map { now + $0 }
        try db.cachedStatement(sql: TransitionSQL.cacheReadySQL).forEachRow {
            $0.add(providerRef); $0.add(now); $0.add(expiresAt); $0.add(now); $0.add(key); $0.add(owner)
        } _: { provider = $0.string(0) }
        guard let provider else { return false }
        try record(.cacheCreated, group: group, data: Self.cacheData(key: key, provider: provider))
        try setGroupCacheRef(providerRef, group: group)
        return true
    }

    /// Records the reference a group's primer runs with: the group's followers use it, whatever later groups
    /// do to the entry.
    private func setGroupCacheRef(_ providerRef: String?, group: GroupID?) throws {
        guard let group else { return }
        try db.cachedStatement(sql: TransitionSQL.setGroupCacheRefSQL).run { $0.add(providerRef); $0.add(group.rawValue) }
    }

    /// Gives up a creation that failed: the `creating` row goes, so no half-made entry is ever `ready`.
    mutating func abandonCacheCreation(key: String, owner: String) throws {
        try db.cachedStatement(sql: TransitionSQL.abandonCreatingSQL).run { $0.add(key); $0.add(owner) }
    }

    /// Invalidates a ready entry, if it still has this reference (an executor found the session gone).
    ///
    /// - Returns: whether the entry was invalidated here (not by someone before).
    mutating func invalidateCache(key: String, providerRef: String?, reason: String, group: GroupID?) throws -> Bool {
        var provider: String?
        try db.cachedStatement(sql: TransitionSQL.invalidateCacheSQL).forEachRow {
            $0.add(now); $0.add(key); $0.add(providerRef)
        } _: { provider = $0.string(0) }
        guard let provider else { return false }
        try record(.cacheInvalidated, group: group, data: Self.cacheData(key: key, provider: provider, reason: reason))
        return true
    }

    /// Sets the provider reference of a ready entry: compare-and-set against `expected` unless `replace`.
    ///
    /// - Returns: whether the reference was set.
    /// The group's own reference changes too, so its later jobs see the new one. With `replace`, an entry an
    /// executor had reported invalid becomes ready again with the new reference (a rotated session).
    mutating func attachCacheRef(key: String, providerRef: String, expected: String?, replace: Bool, group: GroupID?) throws -> Bool {
        try db.cachedStatement(sql: TransitionSQL.attachRefSQL).run {
            $0.add(providerRef); $0.add(now); $0.add(key); $0.add(replace ? 1 : 0); $0.add(expected); $0.add(providerRef)
        }
        guard db.changesCount == 1 else { return false }
        try setGroupCacheRef(providerRef, group: group)
        return true
    }

    private mutating func takeOver(key: String, provider: String, fingerprint: String, owner: String, leaseUntil: Double) throws {
        try db.cachedStatement(sql: TransitionSQL.takeOverSQL).run {
            $0.add(provider); $0.add(fingerprint); $0.add(owner); $0.add(leaseUntil); $0.add(now); $0.add(now); $0.add(key)
        }
    }

    private func cacheEntry(_ key: String) throws -> CacheEntryRow? {
        var entry: CacheEntryRow?
        try db.cachedStatement(sql: TransitionSQL.cacheEntrySQL).forEachRow { $0.add(key) } _: { row in
            entry = CacheEntryRow(
                provider: row.string(0), fingerprint: row.string(1), providerRef: row.optionalString(2), state: row.string(3),
                owner: row.optionalString(4), leaseUntil: row.optionalDouble(5), expiresAt: row.optionalDouble(6)
            )
        }
        return entry
    }

    static func cacheData(key: String, provider: String, reason: String? = nil) -> String {
        var fields: [String: JSONValue] = ["key": .string(key), "provider": .string(provider)]
        if let reason { fields["reason"] = .string(reason) }
        return JSONValue.object(fields).jsonString
    }
}

private struct CacheEntryRow {
    var provider: String
    var fingerprint: String
    var providerRef: String?
    var state: String
    var owner: String?
    var leaseUntil: Double?
    var expiresAt: Double?
}

extension TransitionSQL {
    static let cacheEntrySQL = """
        SELECT provider, fingerprint, provider_ref, state, owner, lease_until, expires_at FROM cache_entries WHERE key = ?
        """

    static let insertCreatingSQL = """
        INSERT INTO cache_entries (key, provider, fingerprint, state, owner, lease_until, created_at, updated_at)
        VALUES (?, ?, ?, 'creating', ?, ?, ?, ?)
        """

    static let takeOverSQL = """
        UPDATE cache_entries SET provider = ?, fingerprint = ?, provider_ref = NULL, state = 'creating', owner = ?,
            lease_until = ?, created_at = ?, updated_at = ?, expires_at = NULL
        WHERE key = ?
        """

    static let cacheHitSQL = "UPDATE cache_entries SET hits = hits + 1, updated_at = ? WHERE key = ?"

    static let cacheReadySQL = """
        UPDATE cache_entries SET state = 'ready', provider_ref = ?, created_at = ?, expires_at = ?, owner = NULL,
            lease_until = NULL, updated_at = ?
        WHERE key = ? AND state = 'creating' AND owner = ?
        RETURNING provider
        """

    static let abandonCreatingSQL = "DELETE FROM cache_entries WHERE key = ? AND state = 'creating' AND owner = ?"

    static let invalidateCacheSQL = """
        UPDATE cache_entries SET state = 'invalid', updated_at = ?
        WHERE key = ? AND state = 'ready' AND provider_ref IS ?
        RETURNING provider
        """

    static let attachRefSQL = """
        UPDATE cache_entries SET provider_ref = ?1, updated_at = ?2, state = 'ready'
        WHERE key = ?3 AND (state = 'ready' AND (?5 IS provider_ref OR ?6 = provider_ref) OR (?4 = 1 AND state IN ('ready', 'invalid')))
        """

    static let setGroupCacheRefSQL = "UPDATE groups SET cache_ref = ? WHERE id = ?"

    /// Extends the leases of the cache entries a worker is creating (owners are `<worker>:<job>`).
    static let extendCacheLeasesSQL = """
        UPDATE cache_entries SET lease_until = ?1 WHERE state = 'creating' AND substr(owner, 1, length(?2) + 1) = ?2 || ':'
        """
}
