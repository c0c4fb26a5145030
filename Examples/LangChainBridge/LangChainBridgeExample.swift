import Acty
import ActyProcess
import ArgumentParser
import Foundation

/// Runs a small release-review workload through `runnable_worker.py`: LangChain runnables in Python worker
/// processes, driven by an Acty engine.
@main
struct LangChainBridgeExample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "langchain-bridge-example",
        abstract: "Runs LangChain runnables (a fake chat model) in Python workers through an Acty engine."
    )

    @Option(help: "The Python interpreter that has langchain-core installed.")
    var python = "python3"

    @Option(help: "The worker script (Examples/LangChainBridge/runnable_worker.py).")
    var worker = "Examples/LangChainBridge/runnable_worker.py"

    @Option(help: "How many worker processes run at once.")
    var poolSize = 2

    @Option(help: "How many release groups to review.")
    var groups = 3

    @Option(help: "The database file; a temporary one when not given.")
    var database: String?

    mutating func run() async throws {
        let path = database ?? FileManager.default.temporaryDirectory.appendingPathComponent("langchain-bridge-\(UUID().uuidString).db").path
        let bridge = ProcessExecutor(
            ProcessExecutorConfiguration(name: "langchain", command: python, arguments: [worker], poolSize: poolSize, requestTimeout: .seconds(60))
        )
        let engine = try await ActyEngine(
            database: .file(path), configuration: EngineConfiguration(retryPolicy: RetryPolicy(maxAttempts: 3)), executors: [bridge]
        )
        var submissions: [GroupSubmission] = []
        for index in 1...groups {
            // The primer reviews the notes with a prompt template; the followers ask the chat model follow-up questions.
            let primer: JSONValue = ["runnable": "review", "input": ["product": "Acty", "notes": .string("Release \(index): adds a process executor.")]]
            let followers: [JSONValue] = ["What could break?", "How do we roll back?"].map { question in
                ["runnable": "chat", "input": [["type": "human", "data": ["content": .string(question)]]], "config": ["tags": ["release-review"]]]
            }
            submissions.append(try await engine.submitGroup("release-\(index)", primer: primer, followers: followers))
        }
        for submission in submissions {
            for job in submission.jobs {
                let result = try await job.result()
                let answer = result.output?["output"]?["data"]?["content"]?.stringValue ?? String(describing: result.error)
                print("\(submission.groupKey) \(result.role.rawValue) \(job.id): \(result.status.rawValue): \(answer)")
            }
        }
        try await engine.shutdown()
        await bridge.shutdown()
        print("database: \(path)")
    }
}
