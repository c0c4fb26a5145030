import ActyStore
import ArgumentParser

/// The states a dependency can be in, for `--state`.
enum DependencyStateArgument: String, ExpressibleByArgument, CaseIterable {
    case waiting, done
    case timedOut = "timed_out"
    case dropped
}

/// `acty-query dependencies`: which groups wait for which, newest first.
struct Dependencies: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List group dependencies, newest first: which group waits (or waited) for which key, and how it ended.",
        discussion: """
            A group with a dependency still waiting is blocked: none of its jobs runs. A dependency names a group key:
            dependency_group_id is the group it resolved to, once one with that key exists. `groups --blocked` lists
            the blocked groups themselves.

            Example:
              acty-query dependencies acty.db --state waiting
            """
    )

    @OptionGroup var options: DatabaseOptions
    @Option(help: "Only dependencies in this state: waiting, done, timed_out or dropped.")
    var state: DependencyStateArgument?
    @Option(help: "Only dependencies of the groups with this key.")
    var group: String?
    @Option(parsing: .unconditional, help: "At most this many dependencies.")
    var limit = 50

    func validate() throws { try validateLimit(limit) }

    func run() async throws {
        try reportingErrors {
            let table = try options.open().dependencies(state: state?.rawValue, groupKey: group, limit: limit)
            emit(Output.standard(options.format).render(table))
        }
    }
}
