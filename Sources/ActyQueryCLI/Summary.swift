import ActyStore
import ArgumentParser

/// `acty-query summary`: counts of jobs and groups, throughput, the oldest ready job, workers, schema version.
struct Summary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show jobs by state, lane and role, groups by state, jobs no live engine can run, throughput, workers and the schema version.",
        discussion: """
            Throughput is the number of attempts finished in the last 60 seconds divided by 60. The section
            jobs_missing_executor counts ready and scheduled jobs whose executor no live engine has registered: they
            wait until an engine that has it starts.

            Example:
              acty-query summary acty.db --format json
            """
    )

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try reportingErrors {
            let sections = try options.open().summary()
            emit(Output.standard(options.format).render(sections: sections, single: ["overview"]))
        }
    }
}
