import ActyStore

/// Open groups by (namespace, key): the first ``ensure(_:dependsOn:)`` of a key opens its group, later ones return the
/// same ``OpenGroup``, so code that handles, say, the steps of many traces can find "the group of trace 7's core step"
/// without passing handles around.
///
/// ```swift
/// let registry = GroupRegistry(engine: engine, lane: "tenant-a", onClose: { print("closed", $0) })
/// let core = try await registry.ensure(.init(namespace: "trace-7", key: "core"))
/// try await core.submit(["step": "plan"])
/// try await registry.closeNamespace("trace-7")       // every group of trace 7
/// ```
///
/// Groups are stored under the key ``groupKey`` makes (`namespace:key` by default), so the registry of a restarted
/// process re-attaches to a group that is still open in the database. The memo itself lives in this object.
public final class GroupRegistry: Sendable {
    /// A group's place in the registry.
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var namespace: String
        public var key: String

        public init(namespace: String, key: String) {
            self.namespace = namespace
            self.key = key
        }

        public var description: String { "(\(namespace), \(key))" }
    }

    private struct Entry {
        var opening: Task<OpenGroup, any Error>
        var dependencies: [GroupDependency]
    }

    /// The engine the groups are opened on.
    public let engine: ActyEngine
    /// The lane of the groups it opens (`nil`: the default lane).
    public let lane: String?
    private let groupKey: @Sendable (Key) -> String
    private let cacheKey: @Sendable (Key) -> String?
    private let groupContext: @Sendable (Key) -> JSONValue?
    private let onClose: @Sendable (String) async -> Void
    private let entries = Locked<[Key: Entry]>([:])

    /// Creates a registry.
    ///
    /// - Parameters:
    ///   - groupKey: the stored group key of a registry key; `namespace:key` by default.
    ///   - cacheKey: the cache key of the group it opens, if any.
    ///   - groupContext: the group context of the group it opens, if any.
    ///   - onClose: called with the group key after the registry closed a group.
    public init(
        engine: ActyEngine,
        lane: String? = nil,
        groupKey: @escaping @Sendable (Key) -> String = { "\($0.namespace):\($0.key)" },
        cacheKey: @escaping @Sendable (Key) -> String? = { _ in nil },
        groupContext: @escaping @Sendable (Key) -> JSONValue? = { _ in nil },
        onClose: @escaping @Sendable (String) async -> Void = { _ in }
    ) {
        self.engine = engine
        self.lane = lane
        self.groupKey = groupKey
        self.cacheKey = cacheKey
        self.groupContext = groupContext
        self.onClose = onClose
    }

    /// The open group of `key`, opened now (with `dependsOn`) if the registry has none; concurrent calls for one key
    /// open one group.
    ///
    /// - Throws: ``ActyError/Code/invalidArgument`` when the group was opened with other dependencies (an empty
    ///   `dependsOn` keeps them), and the codes of ``ActyEngine/openGroup(_:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)``.
    public func ensure(_ key: Key, dependsOn: [GroupDependency] = []) async throws -> OpenGroup {
        let entry = try entries.withLock { entries -> Entry in
            if let existing = entries[key] {
                guard dependsOn.isEmpty || Set(dependsOn) == Set(existing.dependencies) else {
                    throw ActyError(.invalidArgument, "group \(key) is already open with other dependencies: they are set when it opens")
                }
                return existing
            }
            let (engine, lane, name, cache, context) = (engine, lane, groupKey(key), cacheKey(key), groupContext(key))
            let entry = Entry(
                opening: Task { try await engine.openGroup(name, lane: lane, dependsOn: dependsOn, groupContext: context, cacheKey: cache) },
                dependencies: dependsOn
            )
            entries[key] = entry
            return entry
        }
        do {
            return try await entry.opening.value
        } catch {
            // A failed open is forgotten: the next `ensure` tries again.
            entries.withLock { entries in
                if entries[key]?.opening == entry.opening { entries[key] = nil }
            }
            throw error
        }
    }

    /// The open group of `key`.
    ///
    /// - Throws: ``ActyError/Code/unknownGroup`` unless ``ensure(_:dependsOn:)`` opened it and it was not closed.
    public func get(_ key: Key) async throws -> OpenGroup {
        guard let entry = entries.withLock({ $0[key] }) else {
            throw ActyError(.unknownGroup, "group \(key) is not open in this registry: open it with ensure(_:)")
        }
        return try await entry.opening.value
    }

    /// Closes the group of `key` and forgets it; does nothing for a key the registry has not opened.
    public func close(_ key: Key) async throws {
        try await close(entries.withLock { entries in entries.removeValue(forKey: key).map { [$0] } ?? [] })
    }

    /// Closes every group of a namespace.
    public func closeNamespace(_ namespace: String) async throws {
        try await close(entries.withLock { entries in
            let keys = entries.keys.filter { $0.namespace == namespace }
            return keys.compactMap { entries.removeValue(forKey: $0) }
        })
    }

    /// Closes every group the registry opened.
    public func closeAll() async throws {
        try await close(entries.withLock { entries in
            defer { entries = [:] }
            return Array(entries.values)
        })
    }

    private func close(_ closing: [Entry]) async throws {
        for entry in closing {
            guard let group = try? await entry.opening.value else { continue }
            try await group.close()
            await onClose(group.key)
        }
    }
}
