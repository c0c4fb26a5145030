package import ArgumentParser

/// The `acty-tui` command line: a dashboard of a run, from its database or a JSONL event log.
package enum ActyTUI {
    package static let configuration = CommandConfiguration(
        commandName: "acty-tui",
        abstract: "Watch an Acty run: live from its database, or replayed from its event log.",
        subcommands: [Follow.self, Replay.self, Snapshot.self, FollowTiming.self]
    )
}
