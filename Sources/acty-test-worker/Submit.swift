import Acty
import ActyStore
import ArgumentParser
import Foundation

/// Submits G groups of one primer and F followers that run on the `crash` executor, then exits; with `--chain`,
/// each group depends on the one before.
///
/// Goes through ``Store`` rather than an ``ActyEngine``: an engine that registers the `crash` executor would
/// start running the jobs it submits, and this process must leave them all queued for the `work` processes.
struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submits groups of one primer and F followers on the 'crash' executor and exits.",
        discussion: "Example: acty-test-worker submit --database /tmp/t/acty.db --groups 40 --followers 4"
    )

    @Option(help: "The database file (created when missing).") var database: String
    @Option(help: "Number of groups.") var groups = 40
    @Option(help: "Followers per group.") var followers = 4
    @Option(help: "Attempts each job may have, not counting those abandoned by a killed process.")
    var maxAttempts = 50
    @Option(help: "Makes follower 0 of this group a poison pill: running it kills the process.") var poisonGroup: Int?
    @Option(help: "Groups per submitGroups call (each submitter's groups, in calls of this many).") var bulk = 1
    @Flag(help: "Makes each group depend on the one before (crash-<i> on crash-<i-1>, requiring its success).")
    var chain = false
    @Option(help: "Submits under admission control with this cap: groups past it are stored pending.") var maxActiveGroups: Int?

    func validate() throws {
        guard groups > 0, followers >= 0, maxAttempts >= 1, bulk >= 1 else {
            throw ValidationError("use --groups and --bulk of at least 1, --followers of at least 0 and --max-attempts of at least 1")
        }
    }

    func run() async throws {
        let store = try Store(.file(database))
        store.setAdmission(maxActiveGroups.map { AdmissionSettings(cap: $0, burstAllowance: 0) })
        let policy = RetryPolicy(maxAttempts: maxAttempts, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(100))
        let (groups, followers, maxAttempts, poisonGroup, bulk, chain) = (groups, followers, maxAttempts, poisonGroup, bulk, chain)
        let job = { @Sendable (payload: String) in NewJob(executor: Work.executorName, payload: payload, maxAttempts: maxAttempts) }
        // Concurrent submissions share the writer's transactions.
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for submitter in 0..<8 {
                tasks.addTask {
                    let mine = Array(stride(from: submitter, to: groups, by: 8))
                    for start in stride(from: 0, to: mine.count, by: bulk) {
                        let call = mine[start..<min(start + bulk, mine.count)].map { index in
                            var group = NewGroup(
                                key: "crash-\(index)", lane: "default",
                                primer: job(#"{"group":\#(index),"role":"primer"}"#),
                                followers: (0..<followers).map { follower in
                                    let poison = index == poisonGroup && follower == 0 ? #","poison":true"# : ""
                                    return job(#"{"group":\#(index),"follower":\#(follower)\#(poison)}"#)
                                },
                                isClosed: true, retryPolicy: policy
                            )
                            // Submitters run concurrently: a group may come before the one it depends on.
                            if chain, index > 0 { group.dependencies = [GroupDependency("crash-\(index - 1)", policy: .requireSuccess)] }
                            return group
                        }
                        _ = try await store.submitGroups(call, worker: nil)
                    }
                }
            }
            try await tasks.waitForAll()
        }
        try await store.close()
        say("submitted groups=\(groups) jobs=\(groups * (followers + 1))")
    }
}

/// Writes a line to standard output at once: `print` buffers when the output is a file, and a killed process
/// would lose what is still in the buffer.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes a line to standard error at once.
func complain(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
