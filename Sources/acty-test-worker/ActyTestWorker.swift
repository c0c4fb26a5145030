import ArgumentParser

/// A helper for the crash and multi-process tests: submits work into a database file and runs engine processes
/// on it, so that tests can kill real processes (SIGKILL) and inspect what the file and the execution log say.
///
/// Not a product: tests find the binary in the build's products folder (see `TestWorkerProcess.swift`).
@main
struct ActyTestWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acty-test-worker",
        abstract: "Runs Acty engine processes for the crash and multi-process tests.",
        subcommands: [Submit.self, Work.self, CacheWork.self, RepairWork.self, Produce.self]
    )
}
