/// Creates and releases the warmed state a group's jobs share: a provider session, a prompt-prefix cache.
///
/// The engine calls the provider for groups opened with a `cacheKey`. Before a group's primer runs, the entry for
/// its key is looked up in the database: a ready entry with the same ``fingerprint(primer:context:)`` (and not
/// expired) is reused; otherwise one worker, across all processes on the database, calls
/// ``create(primer:context:)`` while the others wait for it. Every job of the group then sees the same
/// ``CacheHandle/providerRef``.
///
/// ```swift
/// struct PrefixCache: CacheProvider {
///     let name = "prefix-cache"
///     func fingerprint(primer: JSONValue, context: JSONValue?) -> String {
///         "\(context?["tenant"]?.stringValue ?? "default"):\(primer["prefix_id"]?.stringValue ?? "")"
///     }
///     func create(primer: JSONValue, context: JSONValue?) async throws -> String? {
///         "prefix-cache:\(fingerprint(primer: primer, context: context))"
///     }
/// }
/// ```
public protocol CacheProvider: Sendable {
    /// The provider's name, stored with its entries: an entry made by another provider is not reused.
    var name: String { get }

    /// What identifies the state the primer would build: an entry whose fingerprint differs is replaced.
    func fingerprint(primer: JSONValue, context: JSONValue?) -> String

    /// Builds the state and returns a reference to it (or `nil` when the provider caches implicitly, by prefix).
    /// A thrown error fails the primer's attempt, which is retried per its retry policy; no entry is left behind.
    func create(primer: JSONValue, context: JSONValue?) async throws -> String?

    /// Returns once the state behind `providerRef` can be used. The default returns at once.
    func waitReady(_ providerRef: String, timeout: Duration?) async throws

    /// Releases the state behind `providerRef`: its entry expired, no longer matches, or an executor found it
    /// unusable. Errors are logged. The default does nothing.
    func invalidate(_ providerRef: String) async throws
}

extension CacheProvider {
    /// Returns at once.
    public func waitReady(_ providerRef: String, timeout: Duration?) async throws {}

    /// Does nothing.
    public func invalidate(_ providerRef: String) async throws {}
}

/// Thrown by an executor that found its group's cache entry unusable (the session expired on the provider's
/// side, say): the entry is invalidated, and the next primer with the key creates a new one.
///
/// The attempt fails like any other and is retried per the job's retry policy.
public struct CacheInvalidError: Error, Sendable, CustomStringConvertible {
    /// Why the entry is unusable.
    public var reason: String

    /// Creates the error.
    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "cache entry invalid: \(reason)" }
}
