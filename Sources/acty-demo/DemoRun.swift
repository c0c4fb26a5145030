import Acty
import ActyOpenAI
import Foundation

/// One run of the demo: engine set-up, the workload with its progress line, shutdown, and the summary.
struct DemoRun {
    let options: ActyDemo

    /// Runs the workload and prints the summary.
    ///
    /// - Throws: ``ActyError`` when the database cannot be used, or a submission fails.
    func run() async throws {
        let runID = Self.makeRunID()
        let path = URL(fileURLWithPath: options.database).standardizedFileURL.path
        let minDelay = Duration.milliseconds(options.minDelayMilliseconds)
        let maxDelay = Duration.milliseconds(options.maxDelayMilliseconds)
        let plan = WorkloadPlan(runID: runID, groups: options.groups, followers: options.followers, maxDelay: maxDelay, seed: options.seed)

        let sinks: [any EventSink] = try options.events.map { [try JSONLEventSink(path: $0, runID: runID)] } ?? []
        // The simulated model, or a real OpenAI-compatible server with --openai-base-url.
        let llm = try options.openaiBaseURL.map { url in
            try OpenAIExecutor(OpenAIConfiguration(baseURL: url, model: options.model, stream: options.stream, maximumConnections: options.primerWorkers + options.followerWorkers))
        }
        let executor: any Executor =
            llm
            ?? SimulatedModel(
                timing: SimulatedExecutor(minDelay: minDelay, maxDelay: maxDelay, failureRate: options.failureRate, seed: options.seed),
                brokenRate: options.brokenJSONRate, seed: options.seed
            )
        do {
            try await run(runID: runID, path: path, plan: plan, sinks: sinks, executor: executor, isSimulated: llm == nil)
        } catch {
            // The executor's HTTP client closes on every path, after the engine.
            try? await llm?.shutdown()
            throw error
        }
        try await llm?.shutdown()
    }

    /// Runs the workload on `executor` and prints the summary.
    private func run(runID: String, path: String, plan: WorkloadPlan, sinks: [any EventSink], executor: any Executor, isSimulated: Bool) async throws {
        let start = ContinuousClock.now
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(
                primerWorkers: options.primerWorkers,
                followerWorkers: options.followerWorkers,
                // A specialist's failure is recorded on it; the rest of the review carries on. A failed coordinator
                // still fails its group (the default), cancelling the specialists waiting for it.
                followerFailurePolicy: .continueGroup,
                // A failed attempt, or one cut off by a crash, runs again after a short backoff.
                retryPolicy: RetryPolicy(maxAttempts: options.maxAttempts, initialDelay: .milliseconds(100), maximumDelay: .seconds(2)),
                // Every answer of the simulated model must be a JSON verdict; a broken one goes back to it with a
                // request to repair it. A real model's answers are recorded as they come.
                resultHandler: isSimulated ? JSONRepairHandler(requiredKeys: SimulatedModel.answerKeys, keyTypes: ["findings": .array]) : nil,
                maxResultHandlerAttempts: options.maxRepairs,
                eventSinks: sinks
            ),
            executors: [executor]
        )

        // The two lanes share the workers 2:1; a `Lane` handle could change that while the run goes on
        // (`update(weight:maxInflight:)`), for this engine and any other on the file.
        _ = try await engine.lane(WorkloadPlan.priorityLane, weight: 2)
        _ = try await engine.lane(WorkloadPlan.backgroundLane, weight: 1)

        let progress = RunProgress(planned: plan.plannedJobs)
        let display = ProgressDisplay(progress: progress, start: start)
        let status = "acty-demo: run \(runID): \(plan.groups.count) groups, \(plan.plannedJobs) jobs into \(path)\n"
        FileHandle.standardError.write(Data(status.utf8))

        let ticker = Task { await display.run() }
        var failure: (any Error)?
        do {
            try await Workload(plan: plan, engine: engine, progress: progress).run()
            // Work an earlier run left queued (a crashed one, say) runs to the end too.
            try await engine.drain()
        } catch {
            failure = error
        }
        let wall = (ContinuousClock.now - start).seconds
        ticker.cancel()
        await ticker.value
        display.finish()
        // Shut down also after a failed submission, so that the queued work is left in a clean state.
        try await engine.shutdown()
        if let failure { throw failure }

        let summary = try await Summary.read(
            databasePath: path, runID: runID, eventsPath: options.events, wallSeconds: wall, refused: progress.snapshot.refused
        )
        print(summary.lines.joined(separator: "\n"))
    }

    /// A fresh run id: UTC time to the second plus random hex, e.g. `run-20250612-101530-3f9a`.
    static func makeRunID() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let random = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        return "run-\(formatter.string(from: Date()))-\(String(repeating: "0", count: 4 - random.count))\(random)"
    }
}
