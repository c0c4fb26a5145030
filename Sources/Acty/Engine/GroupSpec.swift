/// One group of a bulk submission with ``ActyEngine/submitGroups(_:)``: what
/// ``ActyEngine/submitGroup(_:primer:followers:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)`` takes,
/// as a value.
///
/// ```swift
/// let specs = reviews.map { review in
///     GroupSpec(review.id, primer: ["agent": "coordinator"], followers: review.specialists, lane: "priority")
/// }
/// let submissions = try await engine.submitGroups(specs)
/// ```
public struct GroupSpec: Sendable {
    /// The group's key, unique among live groups; it can be reused once the group has finished.
    public var key: String
    /// The primer's payload, or `nil` for a group without a primer (its followers are ready at once).
    public var primer: JSONValue?
    /// The followers' payloads, in order.
    public var followers: [JSONValue]
    /// The lane whose share the group uses; `default` when `nil`.
    public var lane: String?
    /// Groups, by key, that must finish before any job of this group runs; they may be groups of the same call.
    public var dependsOn: [GroupDependency]
    /// The executor that runs the group's jobs; the engine's ``ActyEngine/defaultExecutor`` when `nil`.
    public var executor: String?
    /// Context every job of the group sees as ``Job/groupContext``.
    public var groupContext: JSONValue?
    /// The cache or session entry the group's jobs share; every job sees it as ``Job/cache``.
    public var cacheKey: String?
    /// What a cache provider needs to build that entry.
    public var cacheContext: JSONValue?
    /// Failure policies, retries and timeout for this group, overriding the engine's.
    public var options: GroupOptions

    /// Describes a closed group: its primer and all its followers.
    ///
    /// The parameters are those of
    /// ``ActyEngine/submitGroup(_:primer:followers:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)``.
    public init(
        _ key: String,
        primer: JSONValue? = nil,
        followers: [JSONValue] = [],
        lane: String? = nil,
        dependsOn: [GroupDependency] = [],
        executor: String? = nil,
        groupContext: JSONValue? = nil,
        cacheKey: String? = nil,
        cacheContext: JSONValue? = nil,
        options: GroupOptions = GroupOptions()
    ) {
        self.key = key
        self.primer = primer
        self.followers = followers
        self.lane = lane
        self.dependsOn = dependsOn
        self.executor = executor
        self.groupContext = groupContext
        self.cacheKey = cacheKey
        self.cacheContext = cacheContext
        self.options = options
    }
}
