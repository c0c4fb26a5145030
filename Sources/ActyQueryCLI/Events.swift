import ActyCore
import ActyStore
import ArgumentParser

/// `acty-query events`: the event log, optionally followed as it grows.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List events in seq order; with --follow, keep printing new events until interrupted.",
        discussion: """
            With --follow the file is polled every 200 ms in short read transactions, so a running engine is never
            blocked; --format json prints one object per line then, like jsonl.

            Example:
              acty-query events acty.db --group run-42 --type job_failed
              acty-query events acty.db --since 1200 --follow
            """
    )

    @OptionGroup var options: DatabaseOptions
    @Option(help: "Only events of the groups with this key.")
    var group: String?
    @Option(help: "Only events of this job id.")
    var job: Int64?
    @Option(help: "Only events of this type, for example job_failed.")
    var type: String?
    @Option(parsing: .unconditional, help: "Only events with a seq greater than this.")
    var since: Int64 = 0
    @Option(parsing: .unconditional, help: "At most this many events (per poll with --follow).")
    var limit = 1000
    @Flag(help: "Keep polling for new events every 200 ms and print them until interrupted.")
    var follow = false

    func validate() throws {
        try validateLimit(limit)
        guard since >= 0 else { throw ValidationError("--since must be a seq of 0 or more, for example --since 0.") }
    }

    func run() async throws {
        var store: ReadOnlyStore?
        try reportingErrors { store = try options.open() }
        guard let store else { return }
        var format = options.format
        if follow, format == .json { format = .jsonl }
        let output = Output.standard(format)
        var last = since
        var printedHeader = false
        repeat {
            var table: QueryTable?
            try reportingErrors {
                table = try store.events(groupKey: group, job: job, type: type, since: last, limit: limit)
            }
            guard let table else { return }
            if !table.rows.isEmpty, let seq = table.value("seq", row: table.rows.count - 1)?.doubleValue { last = Int64(seq) }
            if !follow {
                emit(output.render(table))
                return
            }
            if !table.rows.isEmpty {
                emit(output.render(table, header: !printedHeader))
                printedHeader = true
            }
            // A full page means more are waiting: read on at once; otherwise wait for the engine to write more.
            if table.rows.count < limit { try await Task.sleep(for: .milliseconds(200)) }
        } while true
    }
}
