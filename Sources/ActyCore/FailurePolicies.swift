/// What happens to a group when its primer fails after its last attempt.
public enum PrimerFailurePolicy: String, Sendable, Hashable, CaseIterable, Codable {
    /// The group fails at once; followers that have not started are recorded as cancelled and followers added
    /// later are refused. The default, as in Python acty.
    case failGroup = "fail_group"
    /// Followers are recorded as cancelled, also those added later while the group stays open; the group fails
    /// when it closes.
    case skipFollowers = "skip_followers"
    /// Followers run anyway, without what the primer would have prepared. The group can still succeed.
    case runFollowers = "run_followers"
}

/// What happens to a group when one of its followers fails after its last attempt.
public enum FollowerFailurePolicy: String, Sendable, Hashable, CaseIterable, Codable {
    /// The group fails at once; its jobs that have not started are recorded as cancelled, jobs already running
    /// finish normally. The default, as in Python acty.
    case failGroup = "fail_group"
    /// The failure is recorded on the follower and the group carries on; it succeeds when it ends.
    case continueGroup = "continue_group"
}
