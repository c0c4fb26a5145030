import Synchronization

/// The executor tasks running in this process, by job, so a cancelled job's task can be cancelled.
final class RunningJobs: Sendable {
    private let tasks = Mutex<[JobID: Task<JSONValue, any Error>]>([:])

    func insert(_ id: JobID, _ task: Task<JSONValue, any Error>) {
        tasks.withLock { $0[id] = task }
    }

    func remove(_ id: JobID) {
        _ = tasks.withLock { $0.removeValue(forKey: id) }
    }

    /// The jobs running now.
    var ids: [JobID] {
        tasks.withLock { Array($0.keys) }
    }

    /// Cancels the tasks of these jobs, if they run here.
    func cancel(_ ids: some Sequence<JobID>) {
        let cancelled = tasks.withLock { tasks in ids.compactMap { tasks[$0] } }
        for task in cancelled { task.cancel() }
    }
}
