import ActyStore
public import Foundation

/// A group as ``ActyEngine/groups(state:limit:)`` lists it: enough to recognise it and re-attach by key, without its
/// jobs or contexts.
public struct GroupInfo: Sendable, Hashable {
    /// The group's row id.
    public var id: GroupID
    /// The group's key: pass it to ``ActyEngine/openGroup(_:lane:dependsOn:executor:groupContext:cacheKey:cacheContext:options:)``
    /// to re-attach an open group, or to ``ActyEngine/waitForGroup(_:)``.
    public var key: String
    /// Where the group is in its life cycle.
    public var state: GroupState
    /// The lane its jobs use.
    public var lane: String
    /// Where its primer is.
    public var primerState: PrimerState
    /// Followers added so far.
    public var followers: Int
    /// Jobs added so far, the primer included.
    public var jobs: Int
    /// Jobs that reached a terminal state.
    public var finishedJobs: Int
    /// When the group was created.
    public var createdAt: Date
    /// When its last job became terminal, for a finished group.
    public var finishedAt: Date?
    /// How many of its dependencies (see ``GroupDependency``) are not resolved yet: a live group with any is blocked,
    /// and none of its jobs runs.
    public var dependenciesWaiting: Int

    init(_ record: GroupRecord) {
        id = record.id
        key = record.key
        state = record.state
        lane = record.lane
        primerState = record.primerState
        followers = record.followersTotal
        jobs = record.jobsTotal
        finishedJobs = record.jobsFinished
        createdAt = Date(timeIntervalSince1970: record.createdAt)
        finishedAt = record.finishedAt.map(Date.init(timeIntervalSince1970:))
        dependenciesWaiting = record.dependenciesWaiting
    }
}
