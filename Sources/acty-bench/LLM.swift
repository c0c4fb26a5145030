import Acty
import ActyOpenAI
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// LLM calls per second through the engine with OpenAIExecutor, beside a plain AsyncHTTPClient loop making the same
/// calls with the same concurrency, against a local OpenAI-compatible server that answers at once.
struct LLM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "llm",
        abstract: "Chat-completion calls per second through the engine (OpenAIExecutor) against a plain AsyncHTTPClient loop.",
        discussion: """
            Without --base-url, starts acty-llm-test-server (built beside this binary) as a child process, so that the \
            CPU time measured here (getrusage of this process) is the client side's only. Jobs are groups of one primer \
            and F followers; followers carry their primer's messages (the group prefix), and the plain loop sends the \
            same bodies. Example: acty-bench llm --calls 20000 --primer-workers 16 --follower-workers 48
            """
    )

    @Option(help: "Calls in each phase (rounded to whole groups).") var calls = 20_000
    @Option(help: "Followers per group.") var followers = 9
    @Option(help: "Primer pool size.") var primerWorkers = 16
    @Option(help: "Follower pool size; the plain loop runs primer + follower workers calls at once.") var followerWorkers = 48
    @Option(help: "Stream the answers (SSE).") var stream = false
    @Option(help: "An OpenAI-compatible base URL to call instead of a fresh acty-llm-test-server.") var baseURL: String?
    @Option(help: "Durability: process or power.") var durability = "process"
    @Option(help: "Which phases run: both, plain or engine (one phase a process, for timing whole processes from outside).")
    var phase = "both"

    func run() async throws {
        let durability = try parseDurability(durability)
        guard calls >= 1, followers >= 0, primerWorkers >= 1, followerWorkers >= 0 else {
            throw ValidationError("--calls and --primer-workers must be at least 1; --followers and --follower-workers not negative")
        }
        guard ["both", "plain", "engine"].contains(phase) else { throw ValidationError("--phase must be both, plain or engine (got '\(phase)')") }
        let server = try baseURL.map { (url: $0, process: nil) } ?? Self.startServer()
        defer { server.process?.terminate() }
        let concurrency = primerWorkers + followerWorkers
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let groups = max(1, calls / (1 + followers))
        do {
            let plan = Plan(groups: groups, followers: followers, stream: stream)
            // Warm up: connections open, code paths run once.
            _ = try await Self.plainLoop(plan: Plan(groups: max(1, groups / 10), followers: followers, stream: stream), url: server.url, client: client, concurrency: concurrency)
            let plain = phase == "engine" ? nil : try await Self.plainLoop(plan: plan, url: server.url, client: client, concurrency: concurrency)
            let engine =
                phase == "plain"
                ? nil
                : try await Self.engineRun(
                    plan: plan, url: server.url, client: client, primerWorkers: primerWorkers, followerWorkers: followerWorkers, durability: durability
                )
            try await client.shutdown()
            func number(_ value: Double?) -> JSONValue { value.map(JSONValue.number) ?? .null }
            let ratio = engine.flatMap { engine in plain.map { engine.callsPerSecond / $0.callsPerSecond } }
            let extra = engine.flatMap { engine in plain.map { engine.cpuMillisecondsPerCall - $0.cpuMillisecondsPerCall } }
            let result: JSONValue = [
                "workload": "llm",
                "calls": .number(Double(plan.calls)),
                "followers": .number(Double(followers)),
                "primer_workers": .number(Double(primerWorkers)),
                "follower_workers": .number(Double(followerWorkers)),
                "stream": .bool(stream),
                "durability": .string(durability.rawValue),
                "sqlite": sqliteSettings(durability),
                "phase": .string(phase),
                "plain_calls_per_second": number(plain?.callsPerSecond),
                "plain_cpu_ms_per_call": number(plain?.cpuMillisecondsPerCall),
                "engine_calls_per_second": number(engine?.callsPerSecond),
                "engine_cpu_ms_per_call": number(engine?.cpuMillisecondsPerCall),
                "engine_succeeded": number(engine.map { Double($0.succeeded) }),
                "ratio": number(ratio),
                "engine_extra_cpu_ms_per_call": number(extra),
                "peak_rss_mb": .number(Double(peakRSSBytes()) / 1_048_576),
            ]
            print(result.jsonString)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// The calls of one phase: groups of a primer and followers.
    struct Plan {
        var groups: Int
        var followers: Int
        var stream: Bool
        var calls: Int { groups * (1 + followers) }

        func primer(_ group: Int) -> JSONValue {
            [
                "messages": [
                    ["role": "system", "content": "You review a release of one service and answer in one line."],
                    ["role": "user", "content": .string("Service \(group): the uploader now retries failed parts three times.")],
                ],
                "max_tokens": 64,
            ]
        }

        func follower(_ index: Int) -> JSONValue {
            ["prompt": .string("Specialist \(index): list the risks."), "max_tokens": 64]
        }
    }

    struct Measurement {
        var calls: Int
        var succeeded: Int
        var elapsed: Duration
        var cpuSeconds: Double

        var callsPerSecond: Double { Double(calls) / elapsed.seconds }
        var cpuMillisecondsPerCall: Double { cpuSeconds * 1000 / Double(calls) }
    }

    /// The same bodies as the executor sends, posted by `concurrency` tasks straight through AsyncHTTPClient.
    static func plainLoop(plan: Plan, url: String, client: HTTPClient, concurrency: Int) async throws -> Measurement {
        let endpoint = try OpenAIConfiguration.endpoint(baseURL: url, path: "chat/completions")
        var bodies: [ByteBuffer] = []
        bodies.reserveCapacity(plan.calls)
        for group in 0..<plan.groups {
            let primer = plan.primer(group)
            let prefix = try ChatPayload.messages(in: primer)
            var payloads = [(primer, [JSONValue]())]
            payloads += (0..<plan.followers).map { (plan.follower($0), prefix) }
            for (payload, prefix) in payloads {
                let body = ChatPayload.body(
                    payload: payload, messages: prefix + (try ChatPayload.messages(in: payload)), model: "bench-model", defaults: [:],
                    stream: plan.stream, promptCacheKey: "group-\(group)"
                )
                var bytes: [UInt8] = []
                body.writeJSON(into: &bytes)
                bodies.append(ByteBuffer(bytes: bytes))
            }
        }
        let shared = bodies
        let next = Locked(0)
        let cpuStart = cpuSeconds()
        let start = ContinuousClock.now
        let succeeded = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var succeeded = 0
                    while true {
                        let index = next.withLock { value in
                            defer { value += 1 }
                            return value
                        }
                        guard index < shared.count else { return succeeded }
                        var request = HTTPClientRequest(url: endpoint)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(shared[index])
                        let response = try await client.execute(request, timeout: .seconds(30))
                        let body = try await response.body.collect(upTo: 32 << 20)
                        if response.status == .ok, (try? JSONValue(jsonUTF8: body.readableBytesView)) != nil { succeeded += 1 }
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        return Measurement(calls: plan.calls, succeeded: succeeded, elapsed: ContinuousClock.now - start, cpuSeconds: cpuSeconds() - cpuStart)
    }

    /// The calls as jobs of a new engine on a new file, run by OpenAIExecutor on the same HTTP client.
    static func engineRun(
        plan: Plan, url: String, client: HTTPClient, primerWorkers: Int, followerWorkers: Int, durability: Durability
    ) async throws -> Measurement {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let executor = try OpenAIExecutor(OpenAIConfiguration(baseURL: url, model: "bench-model", apiKey: .none, stream: plan.stream), httpClient: client)
        let cpuStart = cpuSeconds()
        let start = ContinuousClock.now
        let engine = try await ActyEngine(
            database: .file(folder.appendingPathComponent("bench.db").path),
            configuration: EngineConfiguration(primerWorkers: primerWorkers, followerWorkers: followerWorkers, durability: durability),
            executors: [executor]
        )
        let specs = (0..<plan.groups).map { group in
            GroupSpec("group-\(group)", primer: plan.primer(group), followers: (0..<plan.followers).map(plan.follower), executor: executor.name)
        }
        var handles: [JobHandle] = []
        for start in stride(from: 0, to: specs.count, by: 64) {
            handles += try await engine.submitGroups(Array(specs[start..<min(start + 64, specs.count)])).flatMap(\.jobs)
        }
        var succeeded = 0
        for handle in handles where try await handle.result().status == .succeeded { succeeded += 1 }
        let elapsed = ContinuousClock.now - start
        try await engine.shutdown()
        return Measurement(calls: handles.count, succeeded: succeeded, elapsed: elapsed, cpuSeconds: cpuSeconds() - cpuStart)
    }

    /// Starts acty-llm-test-server from beside this binary and reads the URL it prints.
    static func startServer() throws -> (url: String, process: Process?) {
        let own = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let binary = own.deletingLastPathComponent().appendingPathComponent("acty-llm-test-server")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ValidationError("\(binary.path) is missing: build it (swift build -c release --product acty-llm-test-server) or pass --base-url")
        }
        let process = Process()
        process.executableURL = binary
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line: [UInt8] = []
        while let byte = try output.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") { line.append(byte) }
        let url = String(decoding: line, as: UTF8.self)
        guard url.hasPrefix("http") else {
            process.terminate()
            throw ValidationError("acty-llm-test-server printed no URL")
        }
        return (url, process)
    }
}

/// User plus system CPU time of this process so far, in seconds.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
