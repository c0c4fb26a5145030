import ActyStore
import ArgumentParser

extension ReadOnlyStore.TokenGrouping: ExpressibleByArgument {}

/// `acty-query tokens`: the tokens executors reported, by lane, group or executor.
struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sum the tokens LLM executors reported, by lane, group or executor.",
        discussion: """
            Counts every attempt that reported usage (Job.recordUsage), failed and retried ones included: they were paid
            for too. cached_share is the share of prompt tokens the provider served from its prefix cache.

            Example:
              acty-query tokens acty.db --by executor
            """
    )

    @OptionGroup var options: DatabaseOptions
    @Option(help: "What to sum by: \(ReadOnlyStore.TokenGrouping.allCases.map(\.rawValue).joined(separator: ", ")).")
    var by: ReadOnlyStore.TokenGrouping = .lane
    @Option(parsing: .unconditional, help: "At most this many rows.")
    var limit = 50

    func validate() throws { try validateLimit(limit) }

    func run() async throws {
        try reportingErrors {
            emit(Output.standard(options.format).render(try options.open().tokens(by: by, limit: limit)))
        }
    }
}

/// `acty-query rate-limits`: the budgets of rate-limited executors, as of now.
struct RateLimits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rate-limits",
        abstract: "List rate limits: configuration, what is left of each budget, jobs running, slowdowns after a 429.",
        discussion: """
            Budgets are shared by every engine on the file. allowed_now is how many more of the executor's jobs may start
            now; slowdown is 1, or the share of the budget in force after a provider refused for load (until slow_until);
            paused_until is a provider's Retry-After.

            Example:
              acty-query rate-limits acty.db
            """
    )

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try reportingErrors {
            emit(Output.standard(options.format).render(try options.open().rateLimits()))
        }
    }
}
