import ActyStore
import ActyCore
import ArgumentParser

/// The states a group can be in, for `--state`.
enum GroupStateArgument: String, ExpressibleByArgument, CaseIterable {
    case open, closed, succeeded, failed, cancelled
}

/// `acty-query groups`: groups, newest first.
struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List groups, newest first.",
        discussion: """
            Example:
              acty-query groups acty.db --state failed --lane background --limit 20
              acty-query groups acty.db --blocked
            """
    )

    @OptionGroup var options: DatabaseOptions
    @Option(help: "Only groups in this state: open, closed, succeeded, failed or cancelled.")
    var state: GroupStateArgument?
    @Option(help: "Only groups of this lane.")
    var lane: String?
    @Flag(help: "Only live groups blocked by dependencies they still wait for (see the dependencies subcommand).")
    var blocked = false
    @Option(parsing: .unconditional, help: "At most this many groups.")
    var limit = 50

    func validate() throws { try validateLimit(limit) }

    func run() async throws {
        try reportingErrors {
            let table = try options.open().groups(state: state?.rawValue, lane: lane, blocked: blocked, limit: limit)
            emit(Output.standard(options.format).render(table))
        }
    }
}
