import ActyStore
import ArgumentParser

/// `acty-query attempts`: finished attempts, newest first.
struct Attempts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List finished attempts, newest first.",
        discussion: """
            A running attempt is its job (state running); this lists attempts that have ended.

            Example:
              acty-query attempts acty.db --job 17
            """
    )

    @OptionGroup var options: DatabaseOptions
    @Option(help: "Only the attempts of this job id.")
    var job: Int64?
    @Option(parsing: .unconditional, help: "At most this many attempts.")
    var limit = 50

    func validate() throws { try validateLimit(limit) }

    func run() async throws {
        try reportingErrors {
            emit(Output.standard(options.format).render(try options.open().attempts(job: job, limit: limit)))
        }
    }
}
