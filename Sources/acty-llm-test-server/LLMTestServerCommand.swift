import ActyLLMTestServer
import ArgumentParser
import Foundation

/// `acty-llm-test-server`: the tests' OpenAI-compatible and GigaChat-like server as a program, for the demo and the
/// LLM benchmark. Prints its base URL on stdout, then serves until killed.
@main
struct LLMTestServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acty-llm-test-server",
        abstract: "Serves an OpenAI-compatible /v1/chat/completions (JSON and SSE) and a GigaChat-like /api/v2/oauth on 127.0.0.1.",
        discussion: """
            Answers every chat call at once with "echo: <last message>" and word-count usage (cached tokens for a \
            repeated prefix under one prompt_cache_key). Prints the base URL (http://127.0.0.1:PORT/v1) on stdout.
            """
    )

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one.")
    var port = 0

    @Option(help: ArgumentHelp("Require this API key as a bearer token.", valueName: "key"))
    var apiKey: String?

    @Flag(help: "Keep every request in memory (off: the server can run a long benchmark).")
    var record = false

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535 (got \(port)).") }
    }

    func run() async throws {
        let server = try await LLMTestServer.start(
            host: host, port: port, options: .init(auth: apiKey.map { .apiKey($0) } ?? .none, recordRequests: record)
        )
        FileHandle.standardOutput.write(Data((server.baseURL + "\n").utf8))
        try await server.waitUntilClosed()
    }
}
