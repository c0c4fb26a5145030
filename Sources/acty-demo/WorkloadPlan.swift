import Acty

/// The shape of one demo run: which groups, in which lane, submitted whole or open, and when their work arrives.
///
/// Every group is a release or incident review of one service: a coordinator primer sets up the shared context and
/// specialist followers each review one aspect. Groups alternate between closed (all submitted at once with
/// `submitGroup`, at the start of the run) and open (`withOpenGroup`, started one after another, followers arriving
/// over time); lanes alternate in pairs so each lane gets both kinds. A last group writes the release notes: it is
/// submitted at the start with a dependency on every review, so it stays blocked until all of them have finished.
struct WorkloadPlan {
    /// One group of the run.
    struct Group {
        var key: String
        var lane: String
        var service: String
        /// Submitted with `withOpenGroup` and followers added over time, rather than with `submitGroup`.
        var isOpen: Bool
        /// When the group starts, counted from the start of the run.
        var startAfter: Duration
        /// The pause before each follower of an open group arrives.
        var followerGaps: [Duration]
        var primer: JSONValue
        var followers: [JSONValue]
        /// Keys of the groups it waits for: it runs once they have finished.
        var dependsOn: [String] = []
    }

    static let priorityLane = "priority"
    static let backgroundLane = "background"

    /// The run id every group key starts with, followed by `/`.
    var runID: String
    var groups: [Group]

    /// How many jobs the run submits if no follower is refused.
    var plannedJobs: Int { groups.reduce(0) { $0 + 1 + $1.followers.count } }

    /// Plans a run.
    ///
    /// - Parameters:
    ///   - runID: prefix of every group key.
    ///   - groups: number of groups.
    ///   - followers: followers per group.
    ///   - maxDelay: the executor's longest delay; open groups' arrivals are paced from it.
    ///   - seed: seeds the choice of specialists and the arrival times.
    init(runID: String, groups: Int, followers: Int, maxDelay: Duration, seed: UInt64) {
        self.runID = runID
        var random = SplitMix64(seed: seed)
        // Followers of an open group arrive every 0.5–2 executor delays; open groups start 3 delays apart.
        let pace = max(maxDelay, .milliseconds(10))
        var openStart = Duration.zero
        self.groups = (0..<groups).map { index in
            let service = Self.services[index % Self.services.count]
            let lane = (index / 2) % 2 == 0 ? Self.priorityLane : Self.backgroundLane
            let isOpen = index % 2 == 1
            let startAfter = isOpen ? openStart : .zero
            if isOpen { openStart += pace * 3 }
            let first = random.below(Self.specialists.count)
            return Group(
                key: "\(runID)/\(lane)/\(service)-\(index)",
                lane: lane,
                service: service,
                isOpen: isOpen,
                startAfter: startAfter,
                followerGaps: isOpen ? (0..<followers).map { _ in pace * (0.5 + 1.5 * random.unit()) } : [],
                primer: Self.primer(service: service, isOpen: isOpen),
                followers: (0..<followers).map { Self.follower(Self.specialists[(first + $0) % Self.specialists.count], service: service) }
            )
        }
        if !self.groups.isEmpty { self.groups.append(Self.releaseNotes(runID: runID, after: self.groups.map(\.key))) }
    }

    /// The release-notes group: a writer primer and an editor follower, after every review of the run.
    private static func releaseNotes(runID: String, after reviews: [String]) -> Group {
        Group(
            key: "\(runID)/\(priorityLane)/release-notes", lane: priorityLane, service: "release", isOpen: false, startAfter: .zero,
            followerGaps: [],
            primer: [
                "agent": "writer", "task": "write the release notes",
                "messages": [["role": "user", "content": "Summarise what the reviews found into release notes."]],
            ],
            followers: [
                ["agent": "specialist:docs", "task": "edit the release notes", "messages": [["role": "user", "content": "Tighten the notes."]]],
            ],
            dependsOn: reviews
        )
    }

    private static let services = [
        "billing", "search", "checkout", "analytics", "auth", "notifications", "payments", "inventory", "shipping",
        "recommendations", "ledger", "gateway",
    ]

    private static let specialists: [(agent: String, task: String, ask: String)] = [
        ("specialist:test-risk", "review regression risk", "Look for missing tests or weak coverage before release."),
        ("specialist:performance", "review latency and throughput risk", "Check whether the release could hurt latency or throughput."),
        ("specialist:ops", "review rollout and monitoring readiness", "Check whether the deployment plan and monitoring are good enough."),
        ("specialist:security", "review security exposure", "Check new endpoints and secrets handling."),
        ("specialist:data-migration", "review schema and data changes", "Check that the migration is reversible."),
        ("specialist:webhooks", "review webhook delivery", "Check whether webhook delivery is delayed or failing."),
        ("specialist:history", "review similar incidents", "Pull recent escalations that look similar."),
        ("specialist:docs", "review release notes", "Check that the changelog and runbook are up to date."),
    ]

    private static func primer(service: String, isOpen: Bool) -> JSONValue {
        [
            "agent": "coordinator",
            "task": "set up the shared review context",
            "prefix_id": .string("\(service)-playbook-v3"),
            "messages": [
                ["role": "system", "content": "You coordinate release-readiness reviews for an engineering team."],
                ["role": "user", "content": .string("We want to ship the \(service) service update today.")],
                [
                    "role": "user",
                    "content": .string(isOpen ? "Warm the shared context; specialists will join as questions come up." : "Figure out which risks and checks should be reviewed before rollout."),
                ],
            ],
        ]
    }

    private static func follower(_ specialist: (agent: String, task: String, ask: String), service: String) -> JSONValue {
        [
            "agent": .string(specialist.agent),
            "task": .string(specialist.task),
            "prefix_id": .string("\(service)-playbook-v3"),
            "messages": [["role": "user", "content": .string(specialist.ask)]],
        ]
    }
}

/// A small seeded generator (SplitMix64), so a seed reproduces the same plan.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A number in 0..<bound.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
