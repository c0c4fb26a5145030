
/// The executor tasks running in this process, by job and attempt, so a cancelled job's task can be cancelled.
///
/// Keyed by attempt too: a job rescued from this process while its executor ignored cancellation can be claimed
/// here again, and the old attempt's task must not hide the new one.
final class RunningJobs: Sendable {
    private struct Attempt: Hashable {
        var job: JobID
        var number: Int
    }

    private let tasks = Locked<[Attempt: Task<JSONValue, any Error>]>([:])

    func insert(_ id: JobID, attempt: Int, _ task: Task<JSONValue, any Error>) {
        tasks.withLock { $0[Attempt(job: id, number: attempt)] = task }
    }

    func remove(_ id: JobID, attempt: Int) {
        _ = tasks.withLock { $0.removeValue(forKey: Attempt(job: id, number: attempt)) }
    }

    /// The jobs running now.
    var ids: [JobID] {
        tasks.withLock { Array(Set($0.keys.map(\.job))) }
    }

    /// Cancels every running attempt of these jobs, if they run here.
    func cancel(_ ids: some Sequence<JobID>) {
        let jobs = Set(ids)
        guard !jobs.isEmpty else { return }
        let cancelled = tasks.withLock { tasks in tasks.filter { jobs.contains($0.key.job) }.map(\.value) }
        for task in cancelled { task.cancel() }
    }
}
