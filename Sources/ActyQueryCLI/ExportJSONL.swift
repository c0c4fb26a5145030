import ActyStore
import ActyCore
import ArgumentParser
import Foundation

/// `acty-query export-jsonl <db> <out>`: the event log in Python acty's JSONL envelope.
struct ExportJSONL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-jsonl",
        abstract: "Write the event log to a file in Python acty's JSONL envelope, in seq order.",
        discussion: """
            Events are read in pages of 1,000, each in its own short read transaction.

            Example:
              acty-query export-jsonl acty.db events.jsonl
            """
    )

    @Argument(help: "The Acty database file (opened read-only).")
    var db: String
    @Argument(help: "The JSONL file to write (replaced if it exists).")
    var out: String
    @Option(help: "The run_id of every line; defaults to the worker that wrote each event.")
    var runID: String?

    func validate() throws {
        guard URL(fileURLWithPath: db).standardizedFileURL != URL(fileURLWithPath: out).standardizedFileURL else {
            throw ValidationError("The output file must not be the database file; name another file, for example events.jsonl.")
        }
    }

    func run() async throws {
        try reportingErrors {
            let store = try DatabaseOptions.parse([db]).open()
            guard FileManager.default.createFile(atPath: out, contents: nil) else {
                throw ActyError(.invalidArgument, "cannot create \(out): check that the folder exists and is writable")
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            defer { try? handle.close() }
            var last: Int64 = 0
            var count = 0
            while true {
                let page = try store.eventRecords(after: last, limit: 1000)
                guard let tail = page.last else { break }
                var text = ""
                for event in page { text += event.jsonlLine(runID: runID) + "\n" }
                try handle.write(contentsOf: Data(text.utf8))
                last = tail.seq
                count += page.count
            }
            FileHandle.standardError.write(Data("exported \(count) events to \(out)\n".utf8))
        }
    }
}
