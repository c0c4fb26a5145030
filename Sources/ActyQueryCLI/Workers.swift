import ActyStore
import ArgumentParser

/// `acty-query workers`: engine processes, alive and gone.
struct Workers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List engine processes that worked on the file, alive (not stopped) and gone.",
        discussion: """
            Example:
              acty-query workers acty.db
            """
    )

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try reportingErrors {
            emit(Output.standard(options.format).render(try options.open().workers()))
        }
    }
}
