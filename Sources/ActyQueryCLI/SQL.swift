import ActyStore
import ArgumentParser

/// `acty-query sql <db> "<SELECT …>"`: one read-only SQL statement.
struct SQL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Run one read-only SQL statement; any statement that would write is refused.",
        discussion: """
            The file is opened read-only and the statement is checked with sqlite3_stmt_readonly before it runs.

            Example:
              acty-query sql acty.db "SELECT lane, COUNT(*) AS n FROM jobs GROUP BY lane" --format csv
            """
    )

    @OptionGroup var options: DatabaseOptions
    @Argument(help: "The SQL statement, for example \"SELECT * FROM jobs LIMIT 5\".")
    var query: String

    func run() async throws {
        try reportingErrors {
            emit(Output.standard(options.format).render(try options.open().sql(query)))
        }
    }
}
