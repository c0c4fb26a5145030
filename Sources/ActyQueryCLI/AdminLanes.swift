import ActyCore
import ActyStore
import ArgumentParser

/// `acty-query pause-lane`: hold a lane's jobs back.
struct PauseLane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause-lane",
        abstract: "Stop claiming a lane's jobs (running ones finish); resume with resume-lane.",
        discussion: "Example:\n  acty-query pause-lane acty.db background"
    )

    @OptionGroup var options: AdminOptions
    @Argument(help: "The lane.") var lane: String

    func run() async throws {
        try await setPaused(true, lane: lane, in: options)
    }
}

/// `acty-query resume-lane`: claim a paused lane's jobs again.
struct ResumeLane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume-lane",
        abstract: "Claim a paused lane's jobs again.",
        discussion: "Example:\n  acty-query resume-lane acty.db background"
    )

    @OptionGroup var options: AdminOptions
    @Argument(help: "The lane.") var lane: String

    func run() async throws {
        try await setPaused(false, lane: lane, in: options)
    }
}

/// Pauses or resumes a lane and says whether that changed anything.
private func setPaused(_ paused: Bool, lane: String, in options: AdminOptions) async throws {
    try await reportingErrors {
        let store = try options.open()
        defer { try? store.close() }
        let changed = try await store.setLanePaused(lane, paused: paused, worker: adminWorker)
        switch (paused, changed) {
        case (true, true): confirm("paused lane '\(lane)'")
        case (true, false): confirm("lane '\(lane)' was already paused")
        case (false, true): confirm("resumed lane '\(lane)'")
        case (false, false): confirm("lane '\(lane)' was not paused")
        }
    }
}

/// `acty-query set-weight`: change a lane's share of the workers.
struct SetWeight: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-weight",
        abstract: "Change a lane's weight (and optionally its cap on running jobs); engines apply it at their next claim.",
        discussion: """
            Examples:
              acty-query set-weight acty.db priority 3
              acty-query set-weight acty.db background 1 --max-inflight 4
              acty-query set-weight acty.db background 1 --no-max-inflight
            """
    )

    @OptionGroup var options: AdminOptions
    @Argument(help: "The lane.") var lane: String
    @Argument(help: "The new weight: a number greater than 0.") var weight: Double
    @Option(parsing: .unconditional, help: "Also cap the lane's running jobs, across every process, at this number.") var maxInflight: Int?
    @Flag(help: "Also remove the lane's cap on running jobs.") var noMaxInflight = false

    func validate() throws {
        guard weight.isFinite, weight > 0 else {
            throw ValidationError("The weight must be a number greater than 0, for example 2.")
        }
        if let maxInflight, maxInflight < 1 {
            throw ValidationError("--max-inflight must be at least 1; use --no-max-inflight to remove the cap.")
        }
        if maxInflight != nil, noMaxInflight {
            throw ValidationError("Use either --max-inflight or --no-max-inflight, not both.")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let store = try options.open()
            defer { try? store.close() }
            let cap: Int?? = noMaxInflight ? .some(nil) : maxInflight.map { .some($0) }
            try await store.setLaneWeight(lane, weight: weight, maxInflight: cap, worker: adminWorker)
            var line = "lane '\(lane)' now has weight \(weight)"
            if let maxInflight { line += " and at most \(maxInflight) running jobs" }
            if noMaxInflight { line += " and no cap on running jobs" }
            confirm(line)
        }
    }
}
