import Acty
import ArgumentParser
import Foundation

/// Opens a group, takes a producer lease on it, adds one follower, prints `leased` and waits until killed.
struct Produce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Holds a producer lease on an open group until the process is killed.",
        discussion: "Example: acty-test-worker produce --database /tmp/t/acty.db --group shared"
    )

    @Option(help: "The database file (created when missing).") var database: String
    @Option(help: "The key of the open group to feed.") var group: String

    func run() async throws {
        let engine = try await ActyEngine(database: .file(database), executors: [EchoExecutor()])
        let open = try await engine.openGroup(group)
        _ = try await open.producerLease()
        try await open.addFollower(["from": .number(Double(ProcessInfo.processInfo.processIdentifier))])
        say("leased")
        while true { try await Task.sleep(for: .seconds(60)) }
    }
}
