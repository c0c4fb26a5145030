package import ArgumentParser

/// `acty-query`: inspect an Acty database file, also while a run is using it.
package struct ActyQuery: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "acty-query",
        abstract: "Inspect an Acty database file, also while a run is using it.",
        discussion: """
            Every subcommand takes the database file first. The inspection subcommands open it read-only; the admin
            subcommands (retry, cancel, pause-lane, resume-lane, set-weight, prune, checkpoint) are the only ones that
            write, each printing what it changed. To copy a database while a run is using it, use backup: copying
            the .db file alone misses what is still in its write-ahead log.

            Example:
              acty-query summary acty.db
              acty-query groups acty.db --state failed --format json
              acty-query backup acty.db acty-copy.db
            """,
        subcommands: [
            Summary.self, Groups.self, Group.self, Dependencies.self, Jobs.self, Job.self, Attempts.self, Lanes.self, RateLimits.self,
            Tokens.self, Cache.self, Metrics.self, ServeMetrics.self,
            Workers.self, Events.self, ExportJSONL.self, SQL.self, Backup.self,
            Retry.self, Cancel.self, PauseLane.self, ResumeLane.self, SetWeight.self, Prune.self, Checkpoint.self,
        ]
    )

    package init() {}
}
