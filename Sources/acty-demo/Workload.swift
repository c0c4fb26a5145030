import Acty

/// Runs a ``WorkloadPlan`` on an engine: submits every group at its time and waits for every job's result,
/// reporting each outcome to a ``RunProgress``.
struct Workload {
    let plan: WorkloadPlan
    let engine: ActyEngine
    let progress: RunProgress

    /// Submits all groups and returns once every submitted job has finished.
    ///
    /// - Throws: the first submission error other than a refused follower (a follower added to an open group that
    ///   has already failed is counted by ``RunProgress`` instead).
    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for group in plan.groups {
                tasks.addTask {
                    if group.startAfter > .zero { try await Task.sleep(for: group.startAfter) }
                    if group.isOpen {
                        try await runOpen(group)
                    } else {
                        try await runClosed(group)
                    }
                }
            }
            // The first error ends the run (the other groups' tasks are cancelled), instead of waiting for every
            // group's planned arrivals as `waitForAll()` would.
            for try await _ in tasks {}
        }
    }

    /// A closed group: primer and followers in one `submitGroup` call. A group with dependencies waits for them
    /// (whatever their outcome: the notes report failed reviews too).
    private func runClosed(_ group: WorkloadPlan.Group) async throws {
        let submission = try await engine.submitGroup(
            group.key, primer: group.primer, followers: group.followers, lane: group.lane,
            dependsOn: group.dependsOn.map { GroupDependency($0, policy: .onDone) },
            groupContext: ["service": .string(group.service), "run": .string(plan.runID)]
        )
        try await awaitAll(submission.jobs)
    }

    /// An open group: the primer first, then followers one by one with pauses between them; the group closes when
    /// the body returns. Results are awaited while more followers arrive.
    private func runOpen(_ group: WorkloadPlan.Group) async throws {
        try await withThrowingTaskGroup(of: Void.self) { waiters in
            try await engine.withOpenGroup(
                group.key, lane: group.lane, groupContext: ["service": .string(group.service), "run": .string(plan.runID)]
            ) { open in
                let primer = try await open.submitPrimer(group.primer)
                waiters.addTask { try await record(primer) }
                for (payload, gap) in zip(group.followers, group.followerGaps) {
                    try await Task.sleep(for: gap)
                    do {
                        let follower = try await open.addFollower(payload)
                        waiters.addTask { try await record(follower) }
                    } catch ActyError.Code.groupClosed {
                        // The primer failed and took the group with it: later followers are refused.
                        progress.refused()
                    }
                }
            }
            try await waiters.waitForAll()
        }
    }

    private func awaitAll(_ handles: [JobHandle]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { waiters in
            for handle in handles {
                waiters.addTask { try await record(handle) }
            }
            try await waiters.waitForAll()
        }
    }

    private func record(_ handle: JobHandle) async throws {
        progress.finished(try await handle.result().status)
    }
}
