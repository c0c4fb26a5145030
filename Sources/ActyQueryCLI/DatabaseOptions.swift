import ActyCore
import ActyStore
import ArgumentParser
import Foundation

/// The output formats of every read subcommand.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Columns fitted to the terminal width.
    case table
    /// One JSON document (an array of objects, or an object of sections).
    case json
    /// One JSON object per line.
    case jsonl
    /// Comma-separated values with a header line.
    case csv
}

/// The arguments every read subcommand shares: the database file and the output format.
struct DatabaseOptions: ParsableArguments {
    @Argument(help: "The Acty database file (opened read-only).")
    var db: String

    @Option(help: "Output format: table, json, jsonl or csv.")
    var format: OutputFormat = .table

    /// Opens the database read-only.
    func open() throws -> ReadOnlyStore { try openReadOnly(db) }
}

/// Opens a database read-only; says on stderr when it is read as an immutable file (its folder is read-only).
func openReadOnly(_ path: String) throws -> ReadOnlyStore {
    let store = try Store.openReadOnly(path)
    if store.isImmutable {
        FileHandle.standardError.write(Data(
            "note: \(path) is in a read-only folder: reading the file as it is, without its -shm; changes made after this are not seen\n".utf8
        ))
    }
    return store
}

/// Runs a subcommand's body; a runtime failure prints one `error: <message>` line on stderr and exits with status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ActyError {
        try fail(error.message)
    } catch let error as ExitCode {
        throw error
    } catch {
        try fail("\(error)")
    }
}

private func fail(_ message: String) throws -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    throw ExitCode(1)
}

/// Validates a `--limit` value. Numeric options parse `.unconditional`ly, so that `--limit -5` gets here instead
/// of argument-parser taking `-5` for an option and reporting a missing value.
func validateLimit(_ limit: Int) throws {
    guard limit > 0 else { throw ValidationError("--limit must be a positive number of rows, for example --limit 50.") }
}
