import Acty
import ArgumentParser
import Foundation

/// `acty-demo`: the README's main job. Runs a simulated multi-agent review workload through Acty into a SQLite
/// file, shows live progress on stderr and prints a summary read back from the database on stdout.
@main
struct ActyDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acty-demo",
        abstract: "Runs a simulated agent workload through Acty into a SQLite file and summarises it.",
        discussion: """
            Each group is one release review of a service: a coordinator primer sets up the shared context, then \
            specialist followers (specialist:test-risk, specialist:performance, specialist:ops, ...) fan out behind \
            it. Half of the groups are submitted whole with submitGroup at the start; the other half are open groups \
            (withOpenGroup) whose followers arrive over time. The groups share the workers through two lanes: \
            "priority" (weight 2) and "background" (weight 1). Jobs run on a simulated model that sleeps a random \
            delay, fails at --failure-rate, and answers with a JSON verdict that is broken at --broken-json-rate (cut \
            off, wrapped in prose, or missing a key). A JSONRepairHandler checks every answer and resubmits a broken \
            one with a request to repair it, at most --max-repairs times per job.

            The database file is kept: if it already exists (from an earlier run, say), this run is added to it under \
            fresh group keys that start with a new run id ("run-<time>-<random>/<lane>/<service>-<n>"), so the groups, \
            jobs and events of earlier runs stay in the file. Jobs an earlier run left queued are picked up and run \
            too. Delete the file to start from an empty database.

            Progress goes to stderr, the summary (read back from the database, for this run's groups) to stdout.

            With --openai-base-url, the same jobs run on a real OpenAI-compatible server instead of the simulated model \
            (OpenAIExecutor from ActyOpenAI: the coordinator's messages are sent in front of each specialist's, with the \
            group key as prompt_cache_key; the API key, if the server needs one, comes from OPENAI_API_KEY). The \
            answers are recorded as the model gives them, with no JSON repair, and token usage is stored per attempt. \
            --min-delay-ms, --max-delay-ms, --failure-rate, --broken-json-rate and --max-repairs apply to the \
            simulated model only.

            Look inside afterwards with sqlite3, e.g.: sqlite3 acty.db 'select state, count(*) from jobs group by state'
            """
    )

    @Option(help: "Number of groups (one review of one service each).")
    var groups = 24

    @Option(help: "Specialist followers per group.")
    var followers = 8

    @Option(help: ArgumentHelp("The SQLite file to write; created when missing, added to when it exists.", valueName: "path"))
    var database = "acty.db"

    @Option(help: "Workers that run primers (coordinators).")
    var primerWorkers = 2

    @Option(help: "Workers that run followers (specialists).")
    var followerWorkers = 4

    @Option(name: .customLong("min-delay-ms"), help: "Shortest simulated job duration, in milliseconds.")
    var minDelayMilliseconds = 20

    @Option(name: .customLong("max-delay-ms"), help: "Longest simulated job duration, in milliseconds.")
    var maxDelayMilliseconds = 120

    @Option(help: "Share of job attempts that fail, from 0 to 1 (0.05 fails about one in twenty).")
    var failureRate = 0.0

    @Option(help: "Attempts a job may have: failed attempts are retried after a short backoff (1 means no retry).")
    var maxAttempts = 3

    @Option(help: "Share of the simulated model's answers that are broken JSON, from 0 to 1 (repaired answers: half as often).")
    var brokenJSONRate = 0.15

    @Option(help: "Repairs of broken answers per job: the JSON repair handler's resubmits (maxResultHandlerAttempts).")
    var maxRepairs = 2

    @Option(help: "Seed of the simulated delays and failures and of the workload's shape.")
    var seed: UInt64 = 7

    @Option(help: ArgumentHelp("Also write every event as a JSON line to this file (appended to if it exists).", valueName: "path"))
    var events: String?

    @Option(help: ArgumentHelp("Run the jobs on this OpenAI-compatible server (e.g. http://127.0.0.1:11434/v1) instead of the simulated model.", valueName: "url"))
    var openaiBaseURL: String?

    @Option(help: "The model to ask, with --openai-base-url.")
    var model = "gpt-4o-mini"

    @Flag(help: "Stream the answers (SSE), with --openai-base-url.")
    var stream = false

    func validate() throws {
        guard maxAttempts >= 1 else {
            throw ValidationError("--max-attempts must be at least 1 (got \(maxAttempts)); 1 means no retry.")
        }
        guard groups >= 1 else {
            throw ValidationError("--groups must be at least 1 (got \(groups)); pass a positive number of groups, e.g. --groups 10.")
        }
        guard followers >= 0 else {
            throw ValidationError("--followers must not be negative (got \(followers)); pass 0 or more followers per group.")
        }
        guard groups * (followers + 1) <= 1_000_000 else {
            throw ValidationError("--groups \(groups) with --followers \(followers) makes more than 1,000,000 jobs; use smaller numbers.")
        }
        guard primerWorkers >= 0, followerWorkers >= 0 else {
            throw ValidationError("--primer-workers and --follower-workers must not be negative; pass 0 or more workers.")
        }
        guard primerWorkers + followerWorkers >= 1 else {
            throw ValidationError("--primer-workers and --follower-workers are both 0; give at least one pool a worker.")
        }
        guard minDelayMilliseconds >= 0, maxDelayMilliseconds >= 0 else {
            throw ValidationError("--min-delay-ms and --max-delay-ms must not be negative; pass 0 or more milliseconds.")
        }
        guard minDelayMilliseconds <= maxDelayMilliseconds else {
            throw ValidationError(
                "--min-delay-ms (\(minDelayMilliseconds)) is greater than --max-delay-ms (\(maxDelayMilliseconds)); make the minimum at most the maximum."
            )
        }
        guard failureRate.isFinite, (0...1).contains(failureRate) else {
            throw ValidationError("--failure-rate must be between 0 and 1 (got \(failureRate)); e.g. 0.05 fails about one attempt in twenty.")
        }
        guard brokenJSONRate.isFinite, (0...1).contains(brokenJSONRate) else {
            throw ValidationError("--broken-json-rate must be between 0 and 1 (got \(brokenJSONRate)); e.g. 0.15 breaks about one answer in seven.")
        }
        guard maxRepairs >= 0 else {
            throw ValidationError("--max-repairs must not be negative (got \(maxRepairs)); 0 fails a job on its first broken answer.")
        }
        guard !database.isEmpty else {
            throw ValidationError("--database is empty; pass a file path such as acty.db.")
        }
        if let openaiBaseURL, !(openaiBaseURL.hasPrefix("http://") || openaiBaseURL.hasPrefix("https://")) {
            throw ValidationError("--openai-base-url must be an http(s) URL such as http://127.0.0.1:11434/v1 (got '\(openaiBaseURL)').")
        }
        guard !model.isEmpty else { throw ValidationError("--model is empty; pass a model name such as llama3.2.") }
        if let events, events.isEmpty {
            throw ValidationError("--events is empty; pass a file path such as acty-events.jsonl, or leave the option out.")
        }
    }

    func run() async throws {
        do {
            try await DemoRun(options: self).run()
        } catch {
            FileHandle.standardError.write(Data("Error: \(Self.oneLine(error))\n".utf8))
            throw ExitCode.failure
        }
    }

    /// An error as one line, no stack trace: an ``ActyError`` says what failed and how to fix it; of its SQLite
    /// cause only the result is kept, not the statement that hit it.
    static func oneLine(_ error: any Error) -> String {
        var text: String
        if let error = error as? ActyError {
            text = "\(error.code): \(error.message)"
            if let cause = error.cause {
                let causeText = String(describing: cause)
                let short = causeText.range(of: " - while executing").map { String(causeText[..<$0.lowerBound]) } ?? causeText
                text += " (\(short))"
            }
        } else {
            text = String(describing: error)
        }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
