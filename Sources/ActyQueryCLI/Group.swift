import ActyStore
import ArgumentParser

/// `acty-query group <key>`: one group with its jobs and cache entry.
struct Group: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one group (the most recent with this key): its row, its jobs, its cache entry and its dependencies.",
        discussion: """
            Example:
              acty-query group acty.db run-42 --format json
            """
    )

    @OptionGroup var options: DatabaseOptions
    @Argument(help: "The group key.")
    var key: String

    func run() async throws {
        try reportingErrors {
            let sections = try options.open().group(key: key)
            emit(Output.standard(options.format).render(sections: sections, single: ["group", "cache_entry"]))
        }
    }
}
