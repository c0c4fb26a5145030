import ActyStore
import ArgumentParser

/// `acty-query cache`: the cache entries.
struct Cache: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List cache entries: provider, state, owner, hits and times.",
        discussion: """
            Example:
              acty-query cache acty.db --format csv
            """
    )

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try reportingErrors {
            emit(Output.standard(options.format).render(try options.open().cacheEntries()))
        }
    }
}
