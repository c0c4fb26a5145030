/// A group's dependency on another group, named by its key: the dependent group stays blocked, holding no worker,
/// until the dependency has finished.
///
/// ```swift
/// try await engine.submitGroup(
///     "release-notes", primer: ["agent": "writer"], followers: [],
///     dependsOn: [GroupDependency("review-1", policy: .requireSuccess), GroupDependency("review-2", timeout: .seconds(600))]
/// )
/// ```
///
/// The key names the live group with that key if there is one; else the most recent finished group with that key,
/// whose recorded outcome counts at once; else the next group submitted with that key, for which the dependent
/// waits (forever, unless a `timeout` is given). The dependency is stored with the dependent group, so it holds
/// across restarts and for every engine on the file.
public struct GroupDependency: Sendable, Hashable, Codable {
    /// What the dependent group needs of its dependency.
    public enum Policy: String, Sendable, Hashable, CaseIterable, Codable {
        /// The dependency must have finished, whatever its outcome; a timeout releases the dependent too.
        case onDone = "on_done"
        /// The dependency must have succeeded (also with failed followers under
        /// ``FollowerFailurePolicy/continueGroup``). A dependency that fails, is cancelled or times out fails the
        /// dependent group: its jobs end `failed` with error type `DependencyFailed`.
        case requireSuccess = "require_success"
    }

    /// The key of the group depended on.
    public var key: String
    /// What the dependent group needs of it.
    public var policy: Policy
    /// How long the dependent waits for it, on wall-clock time from the dependent's submission (also while no
    /// engine runs); `nil` waits without limit. When it passes first, the dependency counts as failed.
    public var timeout: Duration?

    /// Creates a dependency on the group with key `key`.
    ///
    /// - Parameters:
    ///   - key: the key of the group depended on.
    ///   - policy: what the dependent needs of it; ``Policy/onDone`` by default.
    ///   - timeout: how long to wait for it; `nil` (the default) waits without limit.
    public init(_ key: String, policy: Policy = .onDone, timeout: Duration? = nil) {
        self.key = key
        self.policy = policy
        self.timeout = timeout
    }

    /// The error type of the jobs of a group that a failed `.requireSuccess` dependency failed.
    public static let failedErrorType = "DependencyFailed"
}
