import ActyStore
import Foundation
import Logging

/// Finds or creates the cache entry of a group for its primer, and lets executors attach references or report
/// an entry unusable. The entries live in the `cache_entries` table, so creation is single-flight across
/// processes and entries outlive restarts.
struct CacheRegistry: Sendable {
    let provider: any CacheProvider
    let store: Store
    let workerID: String
    let leaseDuration: Duration
    let timeToLive: Duration?
    let pollInterval: Duration
    let logger: Logger
    let metrics: EngineMetrics

    /// The provider reference a group's primer runs with: an entry reused, or one created now by this worker
    /// while other primers with the same key wait.
    ///
    /// - Throws: what the provider's `create` or `waitReady` threw (no entry is left behind).
    func providerRef(forPrimer primer: JSONValue, key: String, context: JSONValue?, group: GroupID, job: JobID) async throws -> String? {
        let fingerprint = provider.fingerprint(primer: primer, context: context)
        // The creator is one attempt of one job: other workers of this process must wait for it too.
        let owner = "\(workerID):\(job)"
        while true {
            let now = WallClock.now
            let decision = try await store.acquireCache(
                key: key, provider: provider.name, fingerprint: fingerprint, owner: owner,
                leaseUntil: now + leaseDuration.seconds, group: group
            )
            switch decision {
            case .hit(let providerRef):
                metrics.cache(.hit)
                if let providerRef { try await provider.waitReady(providerRef, timeout: nil) }
                return providerRef
            case .wait:
                // Wait on a read connection; only ask the writer again once the creation has ended.
                repeat {
                    try await Task.sleep(for: min(pollInterval, .milliseconds(25)))
                } while try await store.cacheCreationInProgress(key: key)
            case .create(let stale):
                if let stale { await release(stale) }
                metrics.cache(.miss)
                do {
                    let providerRef = try await provider.create(primer: primer, context: context)
                    if let providerRef { try await provider.waitReady(providerRef, timeout: nil) }
                    if try await store.cacheReady(key: key, owner: owner, providerRef: providerRef, timeToLive: timeToLive?.seconds, group: group) {
                        metrics.cache(.creation)
                        return providerRef
                    }
                    // The creation took longer than its lease and another worker took over: use theirs.
                    if let providerRef { await release(providerRef) }
                } catch {
                    metrics.cache(.creationFailed)
                    try? await store.abandonCacheCreation(key: key, owner: owner)
                    throw error
                }
            }
        }
    }

    /// Marks an entry unusable (an executor reported it) and releases its state at the provider.
    func invalidate(key: String, providerRef: String?, reason: String, group: GroupID) async {
        do {
            if try await store.invalidateCache(key: key, providerRef: providerRef, reason: reason, group: group, worker: workerID),
                let providerRef
            {
                await release(providerRef)
            }
        } catch {
            logger.error("invalidating a cache entry failed", metadata: ["cache.key": "\(key)", "error": "\(error)"])
        }
    }

    /// The handle a job sees, able to attach a new provider reference to the entry.
    func handle(key: String, providerRef: String?, group: GroupID) -> CacheHandle {
        let store = store
        let worker = workerID
        return CacheHandle(key: key, providerRef: providerRef) { newRef, replace in
            try await store.attachCacheRef(key: key, providerRef: newRef, expected: providerRef, replace: replace, group: group, worker: worker)
        }
    }

    private func release(_ providerRef: String) async {
        do {
            try await provider.invalidate(providerRef)
        } catch {
            logger.warning("the cache provider failed to release a reference", metadata: ["provider": "\(provider.name)", "error": "\(error)"])
        }
    }
}
