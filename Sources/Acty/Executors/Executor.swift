/// Runs jobs: the code that does a job's actual work (calls a model, a tool, an API).
///
/// Executors are registered with the engine by ``name``, and each job row stores the name of the executor that
/// runs it, so a restarted process finds it again. A process claims only jobs whose executor it has registered.
///
/// `execute` is called once per attempt. Return the job's output to succeed; throw to fail the attempt. The task
/// running `execute` is cancelled when the job is cancelled, so long-running executors should check for
/// cancellation.
///
/// ```swift
/// struct Summarizer: Executor {
///     let name = "summarize"
///     func execute(_ job: Job) async throws -> JSONValue {
///         let text = job.payload["text"]?.stringValue ?? ""
///         return ["summary": .string(String(text.prefix(80)))]
///     }
/// }
/// ```
public protocol Executor: Sendable {
    /// The name jobs use to find this executor; unique within an engine.
    var name: String { get }

    /// Runs one attempt of a job and returns its output.
    func execute(_ job: Job) async throws -> JSONValue
}
