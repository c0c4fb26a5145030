/// The warmed cache or provider session a group's jobs share.
///
/// Every job of a group opened with a cache key sees the same handle: the primer's worker creates the entry (or
/// finds it ready from an earlier group with the same key), and followers start once it is ready.
public struct CacheHandle: Sendable, Hashable {
    /// The cache key the group was opened with.
    public var key: String
    /// The provider's reference to the warmed state (a session id, a cache name), if it returned one.
    public var providerRef: String?
    private let attacher: (@Sendable (_ providerRef: String, _ replace: Bool) async throws -> Bool)?

    /// Creates a handle.
    public init(key: String, providerRef: String?) {
        self.key = key
        self.providerRef = providerRef
        self.attacher = nil
    }

    /// Creates a handle whose ``attach(providerRef:replace:)`` records through `attacher`.
    package init(key: String, providerRef: String?, attacher: @escaping @Sendable (String, Bool) async throws -> Bool) {
        self.key = key
        self.providerRef = providerRef
        self.attacher = attacher
    }

    /// Records a provider reference for the entry, such as a session id the provider returned during the job;
    /// later jobs of the group (and later groups with the key) see it.
    ///
    /// Without `replace`, the reference is only set if the entry still has the one this handle was given (no
    /// other job changed it meanwhile).
    ///
    /// - Returns: whether the reference was recorded.
    @discardableResult
    public func attach(providerRef: String, replace: Bool = false) async throws -> Bool {
        guard let attacher else { return false }
        return try await attacher(providerRef, replace)
    }

    public static func == (lhs: CacheHandle, rhs: CacheHandle) -> Bool {
        lhs.key == rhs.key && lhs.providerRef == rhs.providerRef
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(key)
        hasher.combine(providerRef)
    }
}
