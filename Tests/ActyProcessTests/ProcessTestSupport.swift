import ActyCore
import ActyProcess
import ActyTestSupport
@testable import Acty
import Foundation
import Testing

/// Where the bridge, the fixtures and the machine's Python are.
enum Bridge {
    /// The repository's root folder.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    /// `Tests/ActyProcessTests/Fixtures/test_worker.py`.
    static let testWorker = root + "/Tests/ActyProcessTests/Fixtures/test_worker.py"

    /// The interpreter `python3` on `PATH` runs (pyenv's shims resolved, so workers start without the shim), or
    /// `nil` when there is none.
    static let python: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard let python3 = path.split(separator: ":").map({ "\($0)/python3" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { return nil }
        let dir = TemporaryDirectory()
        guard let child = try? ChildProcess(python3, ["-c", "import sys; print(sys.executable)"], standardOutput: dir.file("out")),
            child.waitUntilExit() == .status(0),
            let out = try? String(contentsOfFile: dir.file("out"), encoding: .utf8)
        else { return nil }
        let executable = out.trimmingCharacters(in: .whitespacesAndNewlines)
        return executable.isEmpty ? python3 : executable
    }()

    /// A configuration running the test worker (or `mode` of it) with the machine's Python.
    static func configuration(_ mode: String? = nil, poolSize: Int = 1, requestTimeout: Duration? = nil) -> ProcessExecutorConfiguration {
        ProcessExecutorConfiguration(
            name: "bridge", command: python ?? "python3", arguments: ["-u", testWorker] + (mode.map { [$0] } ?? []),
            poolSize: poolSize, requestTimeout: requestTimeout, terminationGrace: .milliseconds(300)
        )
    }
}

/// Runs `body` with an engine on `dir`'s database that has `executor`; then shuts the engine and the executor down,
/// also when `body` throws.
func withBridgeEngine<T>(
    _ dir: TemporaryDirectory, _ configuration: EngineConfiguration = EngineConfiguration(), executor: ProcessExecutor,
    _ body: (ActyEngine) async throws -> T
) async throws -> T {
    let engine = try await ActyEngine(database: .file(dir.file()), configuration: configuration, executors: [executor])
    do {
        let value = try await body(engine)
        try await engine.shutdown()
        await executor.shutdown()
        return value
    } catch {
        try? await engine.shutdown()
        await executor.shutdown()
        throw error
    }
}

/// Whether no process `pid` runs any more (a zombie counts as gone).
func isGone(_ pid: Int) -> Bool { !LocalProcess.exists(pid) }

extension JobHandle {
    /// The job's result, failing instead of hanging when it does not come within `timeout`.
    func result(within timeout: Duration) async throws -> JobResult {
        try await withThrowingTaskGroup(of: JobResult.self) { group in
            group.addTask { try await self.result() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw CancellationError()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}
