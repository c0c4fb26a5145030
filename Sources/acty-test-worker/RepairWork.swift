import Acty
import ArgumentParser

/// Submits one group whose result handler resubmits the primer's first output, then holds the resubmitted attempt
/// until the process is killed: the crash tests kill it between a resubmit and the attempt it asked for.
struct RepairWork: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair-work",
        abstract: "Submits a group whose handler resubmits the primer, and holds the resubmitted attempt until killed."
    )

    @Option(help: "The database file.") var database: String
    @Option(help: "Give up (exit status 2) after this many seconds.") var timeout = 60.0

    func run() async throws {
        let executor = ClosureExecutor(name: "repairable") { job in
            if job.payload == "repair" { try await Task.sleep(for: .seconds(timeout)) }
            return job.payload
        }
        let engine = try await ActyEngine(
            database: .file(database), configuration: EngineConfiguration(resultHandler: ResubmitOnce()), executors: [executor]
        )
        _ = try await engine.submitGroup("repaired", primer: "orig", followers: ["f"])
        try await Task.sleep(for: .seconds(timeout))
        complain("repair-work: not killed within \(timeout) s")
        throw ExitCode(2)
    }
}

/// Resubmits an `"orig"` output with the payload `"repair"`; accepts any other.
struct ResubmitOnce: ResultHandler {
    func handle(output: JSONValue, of job: Job) async throws -> ResultAction {
        output == "orig" ? .resubmit("repair", reason: "asked to repair") : .accept
    }
}
