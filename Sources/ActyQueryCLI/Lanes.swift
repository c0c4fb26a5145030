import ActyStore
import ArgumentParser

/// `acty-query lanes`: lane settings, job counts and the share of recent starts.
struct Lanes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List lanes: weight, max in flight, paused, jobs ready/running/done/failed, share of recent starts.",
        discussion: """
            start_share is the lane's fraction of the jobs started in the last 5 minutes.

            Example:
              acty-query lanes acty.db
            """
    )

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try reportingErrors {
            emit(Output.standard(options.format).render(try options.open().lanes()))
        }
    }
}
