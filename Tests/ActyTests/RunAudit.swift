import Acty
@testable import ActyStore
import Foundation

/// What a database and its execution log say after `acty-test-worker` processes ran on them (and were killed).
struct RunAudit {
    var jobs: [JobRecord]
    var groups: [GroupRecord]
    /// Finished attempts of each job, by number.
    var attempts: [JobID: [AttemptRecord]]
    var workers: [WorkerRow]
    var executions: [Execution]

    static func load(database: String, log: String) async throws -> RunAudit {
        let store = try Store(.file(database))
        defer { try? store.close() }
        return RunAudit(
            jobs: try await store.allJobs(), groups: try await store.allGroups(),
            attempts: Dictionary(grouping: try await store.attempts(), by: \.jobID), workers: try await store.allWorkers(),
            executions: try Execution.read(log)
        )
    }

    /// The worker id each process registered, by pid.
    var workerByPid: [Int32: String] { Dictionary(workers.map { ($0.pid, $0.id) }, uniquingKeysWith: { first, _ in first }) }

    /// Executor runs of each job.
    var executionsByJob: [Int64: [Execution]] { Dictionary(grouping: executions, by: \.job) }

    /// Jobs that did not end `succeeded`.
    var unfinishedJobs: [JobID] { jobs.filter { $0.state != .succeeded }.map(\.id) }

    /// Jobs whose attempts are not 1...n with `n == attempts`, each abandoned but the last, which succeeded.
    var jobsWithBadAttempts: [JobID] {
        jobs.filter { job in
            let rows = attempts[job.id] ?? []
            return rows.map(\.number) != Array(1...max(1, job.attempts)) || rows.count != job.attempts
                || rows.last?.outcome != "succeeded" || rows.dropLast().contains { $0.outcome != "abandoned" }
        }.map(\.id)
    }

    /// Followers whose first attempt started before their primer's successful attempt finished.
    var followersStartedEarly: [JobID] {
        var primerFinished: [GroupID: Double] = [:]
        for job in jobs where job.role == .primer {
            primerFinished[job.groupID] = attempts[job.id]?.first { $0.outcome == "succeeded" }?.finishedAt ?? .infinity
        }
        return jobs.filter { job in
            guard job.role == .follower, let first = attempts[job.id]?.first else { return false }
            return first.startedAt < primerFinished[job.groupID, default: .infinity]
        }.map(\.id)
    }

    /// Jobs of group `crash-<i>` whose first attempt started before group `crash-<i-1>` finished: what a run of
    /// `acty-test-worker submit --chain` must never show.
    var jobsStartedBeforeTheirDependency: [JobID] {
        let finishedAt = Dictionary(groups.map { ($0.key, $0.finishedAt ?? .infinity) }, uniquingKeysWith: max)
        let keys = Dictionary(groups.map { ($0.id, $0.key) }, uniquingKeysWith: { first, _ in first })
        return jobs.filter { job in
            guard let key = keys[job.groupID], let index = Int(key.dropFirst("crash-".count)), index > 0,
                let first = attempts[job.id]?.first
            else { return false }
            return first.startedAt < finishedAt["crash-\(index - 1)", default: .infinity]
        }.map(\.id)
    }

    /// Executor runs that do not match an attempt row run by the worker of the process that logged them.
    var unexplainedExecutions: [Execution] {
        let workers = workerByPid
        return executions.filter { run in
            guard let worker = workers[run.pid],
                let attempt = attempts[JobID(run.job)]?.first(where: { $0.number == run.attempt })
            else { return true }
            return attempt.worker != worker
        }
    }

    /// (job, attempt) pairs that were run more than once: an attempt must never be executed twice.
    var attemptsRunTwice: [String] {
        Dictionary(grouping: executions) { "\($0.job)#\($0.attempt)" }.filter { $0.value.count > 1 }.keys.sorted()
    }

    /// Jobs whose successful attempt has no executor run in the log.
    var successesWithoutExecution: [JobID] {
        let logged = Set(executions.map { "\($0.job)#\($0.attempt)" })
        return jobs.filter { job in
            guard let success = attempts[job.id]?.first(where: { $0.outcome == "succeeded" }) else { return false }
            return !logged.contains("\(job.id.rawValue)#\(success.number)")
        }.map(\.id)
    }

    /// Jobs executed more than once: each must have had an abandoned attempt per extra run.
    var reExecutedJobs: [JobID: Int] {
        executionsByJob.filter { $0.value.count > 1 }.reduce(into: [:]) { $0[JobID($1.key)] = $1.value.count - 1 }
    }

    /// Abandoned attempts, by the worker that held them.
    var abandonedByWorker: [String: Int] {
        attempts.values.joined().filter { $0.outcome == "abandoned" }.reduce(into: [:]) { $0[$1.worker, default: 0] += 1 }
    }

    /// The first executor run of a process, if it ran any.
    func firstExecution(ofPid pid: Int32) -> Execution? {
        executions.filter { $0.pid == pid }.min { $0.at < $1.at }
    }
}
