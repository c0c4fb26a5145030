import ActyStore
import ArgumentParser

/// `acty-query job <id>`: one job with its payload, result, error and attempts.
struct Job: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one job: its payload, result, error and every attempt.",
        discussion: """
            Example:
              acty-query job acty.db 17 --format json
            """
    )

    @OptionGroup var options: DatabaseOptions
    @Argument(help: "The job id.")
    var id: Int64

    func run() async throws {
        try reportingErrors {
            let sections = try options.open().job(id: id)
            emit(Output.standard(options.format).render(sections: sections, single: ["job"]))
        }
    }
}
