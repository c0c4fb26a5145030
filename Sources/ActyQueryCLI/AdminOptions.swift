import ActyCore
import ActyStore
import ArgumentParser
import Foundation

/// The database argument of the admin subcommands, the only ones that write.
///
/// Writes go through ActyStore's writer: `BEGIN IMMEDIATE` with a busy timeout and the same state rules as the
/// engine, so a running engine picks the change up at its next claim and never sees a half-made state.
struct AdminOptions: ParsableArguments {
    @Argument(help: "The Acty database file (opened for writing; it must exist).")
    var db: String

    /// Opens the database for writing; refuses a missing file rather than creating one.
    func open() throws -> Store {
        guard FileManager.default.fileExists(atPath: db) else {
            throw ActyError(.databaseUnavailable, "no database file at \(db)")
        }
        return try Store(.file(db))
    }
}

/// The worker id admin changes are recorded under in the event log.
let adminWorker = "acty-query"

/// Runs an admin subcommand's body; a runtime failure prints one `error: <message>` line and exits with status 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ActyError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(1)
    } catch let error as ExitCode {
        throw error
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

/// Prints a confirmation line on standard output.
func confirm(_ line: String) {
    print(line)
}
