import ActyCore
import ActyStore
import ArgumentParser

/// `acty-query retry`: queue failed jobs again.
struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue a failed job, a group's failed jobs, or every failed job again, with one more attempt.",
        discussion: """
            A finished group becomes live again. Retrying a primer brings back the followers cancelled because of it
            (its failure, or its group's cancellation), blocked until it succeeds; a follower whose primer failed or
            was cancelled cannot be retried alone. A running engine picks the jobs up at its next claim.

            Examples:
              acty-query retry acty.db --job 42
              acty-query retry acty.db --group release-readiness
              acty-query retry acty.db --all-failed
            """
    )

    @OptionGroup var options: AdminOptions
    @Option(help: "The id of a failed or cancelled job.") var job: Int64?
    @Option(help: "The key of a group whose failed jobs to retry.") var group: String?
    @Flag(help: "Retry every failed job of the database.") var allFailed = false

    func validate() throws {
        guard [job != nil, group != nil, allFailed].filter({ $0 }).count == 1 else {
            throw ValidationError("Name exactly one of --job <id>, --group <key> or --all-failed.")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let store = try options.open()
            defer { try? store.close() }
            if let job {
                let (count, _) = try await store.retryJob(JobID(job), worker: adminWorker)
                let followers = count - 1
                let revived = followers > 0 ? " with the \(followers) follower\(followers == 1 ? "" : "s") cancelled because of it" : ""
                confirm("queued job \(job) again" + revived)
            } else if let group {
                guard let record = try await store.group(key: group) else {
                    throw ActyError(.unknownGroup, "no group with key '\(group)' exists in this database")
                }
                let (count, _) = try await store.retryFailedJobs(inGroup: record.id, worker: adminWorker)
                confirm("queued \(count) job\(count == 1 ? "" : "s") of group '\(group)' again")
            } else {
                let (count, _) = try await store.retryAllFailedJobs(worker: adminWorker)
                confirm("queued \(count) failed job\(count == 1 ? "" : "s") again")
            }
        }
    }
}

/// `acty-query cancel`: cancel a job or a group.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a job (a primer cancels its group) or a whole group, running jobs included.",
        discussion: """
            Queued jobs are cancelled at once; the engine running a cancelled job stops its executor within moments.

            Examples:
              acty-query cancel acty.db --job 42
              acty-query cancel acty.db --group nightly-eval
            """
    )

    @OptionGroup var options: AdminOptions
    @Option(help: "The id of the job to cancel.") var job: Int64?
    @Option(help: "The key of the group to cancel.") var group: String?

    func validate() throws {
        guard (job == nil) != (group == nil) else {
            throw ValidationError("Name exactly one of --job <id> or --group <key>.")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let store = try options.open()
            defer { try? store.close() }
            if let job {
                let (cancelled, _) = try await store.cancelJob(JobID(job), worker: adminWorker)
                confirm(cancelled ? "cancelled job \(job)" : "job \(job) had already finished; nothing changed")
            } else if let group {
                guard let record = try await store.group(key: group) else {
                    throw ActyError(.unknownGroup, "no group with key '\(group)' exists in this database")
                }
                let (cancelled, _) = try await store.cancelGroup(record.id, worker: adminWorker)
                confirm(cancelled ? "cancelled group '\(group)'" : "group '\(group)' had already finished; nothing changed")
            }
        }
    }
}
