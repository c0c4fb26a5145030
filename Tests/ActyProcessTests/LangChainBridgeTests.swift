import ActyCore
import ActyProcess
import ActyStore
import ActyTestSupport
@testable import Acty
import Foundation
import Testing

/// `Examples/LangChainBridge/runnable_worker.py` through the engine, with `langchain-core` from PyPI in a virtual
/// environment (made once, cached in `~/.cache/acty-tests/`).
@Suite(.timeLimit(.minutes(10)), .enabled(if: Bridge.python != nil, "python3 is not on PATH: the LangChain bridge test needs it"))
struct LangChainBridgeTests {
    static let answers = ["Ship it.", "Watch the migration.", "Roll back with the previous tag."]

    @Test func aLangChainRunnableAnswersThroughTheEngineWithTheFakeModelsReplies() async throws {
        let python = try await VirtualEnvironment.python(with: "langchain-core", importing: "langchain_core")
        var environment = ProcessInfo.processInfo.environment
        environment["ACTY_FAKE_ANSWERS"] = JSONValue.array(Self.answers.map(JSONValue.string)).jsonString
        let executor = ProcessExecutor(
            ProcessExecutorConfiguration(
                name: "langchain", command: python, arguments: [Bridge.root + "/Examples/LangChainBridge/runnable_worker.py"],
                environment: environment, requestTimeout: .seconds(60)
            )
        )
        let dir = TemporaryDirectory()
        try await withBridgeEngine(dir, executor: executor) { engine in
            let question: JSONValue = [["type": "system", "data": ["content": "Be brief."]], ["type": "human", "data": ["content": "Risks?"]]]
            let submission = try await engine.submitGroup(
                "release", primer: ["runnable": "review", "input": ["product": "Acty", "notes": "Adds a process executor."]],
                followers: [["runnable": "chat", "input": question, "config": ["tags": ["review"]]], ["payload": ["input": "Plain text works too."]]]
            )
            // One worker, and the primer runs before the followers: it gets the model's first reply.
            let primer = try await #require(submission.primer).result(within: .seconds(60))
            #expect(primer.status == .succeeded, "\(String(describing: primer.error))")
            let message = try #require(primer.output?["output"])
            #expect(message["type"] == "ai")
            #expect(message["data"]?["content"] == .string(Self.answers[0]))
            var replies: Set<String> = []
            for follower in submission.followers {
                let result = try await follower.result(within: .seconds(60))
                #expect(result.status == .succeeded, "\(String(describing: result.error))")
                replies.insert(result.output?["output"]?["data"]?["content"]?.stringValue ?? "")
            }
            #expect(replies == Set(Self.answers[1...]))
            // The model's usage_metadata became the attempt's usage.
            let usage = try await engine.store.attempts(of: #require(submission.primer).id).map(\.usage)
            #expect(usage == [TokenUsage(promptTokens: 20, completionTokens: 2, cachedPromptTokens: 16)])

            let unknown = try #require(try await engine.submitGroup("unknown", primer: ["runnable": "missing", "input": "x"]).primer)
            let failed = try await unknown.result(within: .seconds(60))
            #expect(failed.status == .failed)
            #expect(failed.error == JobError(type: "NonRetryableError", message: "no runnable named 'missing'; this worker has chat, review"))
        }
    }
}

/// A Python virtual environment with one requirement installed from PyPI, made with the machine's Python.
enum VirtualEnvironment {
    /// The interpreter of the environment that has `requirement`, under `~/.cache/acty-tests/`, made (with
    /// `python3 -m venv` and `pip install`) when it is missing or cannot import `module`.
    static func python(with requirement: String, importing module: String) async throws -> String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSTemporaryDirectory()
        let name = String(requirement.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
        let folder = "\(home)/.cache/acty-tests/langchain-venv-\(name)"
        if try await run(folder + "/bin/python", ["-c", "import \(module)"]).status == 0 { return folder + "/bin/python" }
        // Made beside the cache and moved in when complete, so an interrupted install is never taken for a good one.
        let staging = "\(folder).staging-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try FileManager.default.createDirectory(atPath: home + "/.cache/acty-tests", withIntermediateDirectories: true)
        try await check(run(Bridge.python!, ["-m", "venv", staging]), "python3 -m venv")
        try await check(run(staging + "/bin/python", ["-m", "pip", "install", "--quiet", requirement]), "pip install \(requirement)")
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.moveItem(atPath: staging, toPath: folder)
        return folder + "/bin/python"
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let description: String
    }

    private static func check(_ outcome: (status: Int32, errors: String), _ what: String) throws {
        guard outcome.status == 0 else { throw CommandFailed(description: "\(what) failed (\(outcome.status)): \(outcome.errors.suffix(2_000))") }
    }

    /// Runs a program to its end on a thread of its own (pip takes a while) and returns its exit status and
    /// standard error; status -1 when it cannot start.
    private static func run(_ program: String, _ arguments: [String]) async throws -> (status: Int32, errors: String) {
        guard FileManager.default.isExecutableFile(atPath: program) else { return (-1, "\(program) does not exist") }
        let dir = TemporaryDirectory()
        let child = try ChildProcess(program, arguments, standardError: dir.file("stderr"))
        let exit = await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: child.waitUntilExit()) }
        }
        return (exit.status, (try? String(contentsOfFile: dir.file("stderr"), encoding: .utf8)) ?? "")
    }
}
