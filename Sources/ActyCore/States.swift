/// The part a job plays in its group.
public enum JobRole: String, Sendable, Hashable, CaseIterable, Codable {
    /// The setup step of a group: it runs first, and the followers wait for its success.
    case primer
    /// Fan-out work that reuses what the primer prepared.
    case follower

    /// The other role: the work a pool steals when its own role has none.
    public var other: JobRole { self == .primer ? .follower : .primer }
}

/// Where a job is in its life cycle, as stored in `jobs.state`.
///
/// `blocked` → `ready` → `running` → `succeeded` | `failed` | `cancelled`; a failed attempt with attempts left goes
/// to `scheduled` and back to `ready` when its backoff is over.
public enum JobState: String, Sendable, Hashable, CaseIterable, Codable {
    /// A follower waiting for its group's primer, or any job of a group waiting for its dependencies
    /// (see ``GroupDependency``).
    case blocked
    /// Waiting for a worker.
    case ready
    /// Waiting for its `run_at` time (a retry backoff).
    case scheduled
    /// Leased to a worker that is executing it.
    case running
    /// Finished with an output.
    case succeeded
    /// Finished with an error after its last attempt.
    case failed
    /// Will never run, or was stopped while running.
    case cancelled

    /// Whether the job has reached a final state.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        case .blocked, .ready, .scheduled, .running: false
        }
    }
}

/// Where a group is in its life cycle, as stored in `groups.state`.
///
/// `open` → `closed` (no more followers) → `succeeded` | `failed` | `cancelled` once every job is terminal. A group
/// whose failure policy fails it moves to `failed` at once, even while some of its jobs still run.
public enum GroupState: String, Sendable, Hashable, CaseIterable, Codable {
    /// Followers may still be added.
    case open
    /// No more followers will be added; jobs are still running or waiting.
    case closed
    /// Every job is terminal and the failure policies let the group count as a success.
    case succeeded
    /// A job failed under a policy that fails the group.
    case failed
    /// The group was cancelled.
    case cancelled

    /// Whether the group still accepts work or has work in progress under its key.
    public var isLive: Bool { self == .open || self == .closed }
}

/// Where a group's primer is, as stored in `groups.primer_state`.
public enum PrimerState: String, Sendable, Hashable, CaseIterable, Codable {
    /// No primer was submitted (yet): followers wait until one is, or until the group closes without one.
    case none
    /// The primer is submitted and has not finished.
    case pending
    /// The primer succeeded: followers may run.
    case succeeded
    /// The primer failed after its last attempt.
    case failed
    /// The primer was skipped or cancelled.
    case skipped
}
