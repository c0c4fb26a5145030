import ActyStore
import Logging

extension ActyEngine {
    /// Looks for jobs that wait for an executor no live engine has registered (a renamed executor, say, after a
    /// restart): at start, then every few seconds while this engine runs nothing (a busy engine is making
    /// progress; the look reads every waiting job, so it is kept for idle times).
    func watchMissingExecutors() async {
        let interval = min(configuration.leaseDuration, .seconds(5))
        var isFirst = true
        while !Task.isCancelled {
            if isFirst || runningJobs.ids.isEmpty { await reportMissingExecutors() }
            isFirst = false
            try? await Task.sleep(for: interval)
        }
    }

    /// Reports, once per executor name, jobs waiting for an executor no live engine has: a warning in the log and
    /// an `executor_missing` event. The jobs stay queued and their ``JobHandle/result()`` keeps waiting, since an
    /// engine that registers the executor may still come; `acty-query summary` lists them meanwhile.
    func reportMissingExecutors() async {
        do {
            let missing = try await store.jobsWaitingForExecutors(notIn: try await liveExecutors())
            let registered = executors.keys.sorted()
            for (name, jobs) in missing.sorted(by: { $0.key < $1.key }) {
                guard reportedMissingExecutors.withLock({ $0.insert(name).inserted }) else { continue }
                configuration.logger.warning(
                    "jobs wait for an executor no running engine has registered: they stay queued until one does",
                    metadata: ["executor": "\(name)", "jobs": "\(jobs)", "registered": "\(registered.joined(separator: ", "))"]
                )
                try await store.recordExecutorMissing(name, jobs: jobs, registered: registered, worker: workerID)
            }
        } catch {
            configuration.logger.warning("looking for jobs without a live executor failed", metadata: ["error": "\(error)"])
        }
    }
}
