import ActyStore
import ArgumentParser

/// The states a job can be in, for `--state`.
enum JobStateArgument: String, ExpressibleByArgument, CaseIterable {
    case blocked, ready, scheduled, running, succeeded, failed, cancelled
}

/// Job roles, for `--role`.
enum JobRoleArgument: String, ExpressibleByArgument, CaseIterable {
    case primer, follower
}

/// `acty-query jobs`: jobs, newest first.
struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List jobs, newest first.",
        discussion: """
            Example:
              acty-query jobs acty.db --state failed --role follower --group run-42
            """
    )

    @OptionGroup var options: DatabaseOptions
    @Option(help: "Only jobs in this state: blocked, ready, scheduled, running, succeeded, failed or cancelled.")
    var state: JobStateArgument?
    @Option(help: "Only jobs of this lane.")
    var lane: String?
    @Option(help: "Only jobs of this role: primer or follower.")
    var role: JobRoleArgument?
    @Option(help: "Only jobs run by this executor.")
    var executor: String?
    @Option(help: "Only jobs of the groups with this key.")
    var group: String?
    @Option(parsing: .unconditional, help: "At most this many jobs.")
    var limit = 50

    func validate() throws { try validateLimit(limit) }

    func run() async throws {
        try reportingErrors {
            let table = try options.open().jobs(
                state: state?.rawValue, lane: lane, role: role?.rawValue, executor: executor, groupKey: group, limit: limit
            )
            emit(Output.standard(options.format).render(table))
        }
    }
}
