import Foundation
import ActyCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PostgreSQL for tests: a fresh, empty database per test, on the server `ACTY_TEST_POSTGRES_URL` names (`.ci/run`
/// starts one), or else on a server this process starts once with `Tools/postgres-test-server.sh` and stops at
/// exit. Tests that need it are skipped when neither is possible:
///
///     @Test(.enabled(if: PostgresTestServer.isAvailable, Comment(rawValue: PostgresTestServer.unavailableReason)))
///
/// Databases are created and dropped with `psql`, so this module needs no PostgreSQL client library.
public enum PostgresTestServer {
    /// The variable naming a running server's database, `postgres://user@host:port/database?sslmode=disable`.
    public static let urlVariable = "ACTY_TEST_POSTGRES_URL"

    /// Whether tests can get a database: the variable is set, or PostgreSQL's programs are installed.
    public static var isAvailable: Bool {
        ProcessInfo.processInfo.environment[urlVariable] != nil || program("initdb") != nil
    }

    /// Why PostgreSQL tests are skipped, for `.enabled(if:_:)`.
    public static let unavailableReason =
        "PostgreSQL tests skipped: ACTY_TEST_POSTGRES_URL is unset and no PostgreSQL programs (initdb, pg_ctl) were found; install postgresql-15"

    /// Runs `body` with the URL of a new, empty database, and drops the database afterwards, also when `body` throws.
    public static func withDatabase<T>(_ body: (_ url: String) async throws -> T) async throws -> T {
        let server = try await serverURL()
        let name = "acty_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await psql(server, "CREATE DATABASE \(name) TEMPLATE template0")
        do {
            let result = try await body(url(server, database: name))
            try await psql(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            return result
        } catch {
            try? await psql(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            throw error
        }
    }

    /// The URL of the shared server's `acty` database, starting the server on first use when the variable is unset.
    public static func serverURL() async throws -> String {
        if let url = ProcessInfo.processInfo.environment[urlVariable] { return url }
        return try await shared.url()
    }

    /// `server`'s URL with another database.
    public static func url(_ server: String, database: String) -> String {
        guard var components = URLComponents(string: server) else { return server }
        components.path = "/" + database
        return components.string ?? server
    }

    /// A server of one's own, for a test that stops it. ``stop()`` it when done (also when the test fails); the
    /// script's watcher stops it anyway once this process has exited.
    public final class Private: Sendable {
        /// The URL of its `acty` database.
        public let url: String
        private let folder: String

        /// Starts a new server; takes a few seconds.
        public init() async throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-postgres-\(UUID().uuidString)").path
            url = try await PostgresTestServer.start(in: folder)
        }

        /// Stops the server (PostgreSQL's immediate shutdown) and removes its files.
        public func stop() async {
            _ = try? await PostgresTestServer.runScript(["stop", folder])
        }
    }

    // MARK: - Starting and stopping

    private static let shared = SharedServer()

    /// The server of this test process, started once.
    private actor SharedServer {
        private var starting: Task<String, any Error>?

        func url() async throws -> String {
            if let starting { return try await starting.value }
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("acty-postgres-\(UUID().uuidString)").path
            let task = Task { try await PostgresTestServer.start(in: folder) }
            starting = task
            let url = try await task.value
            sharedFolder.withLock { $0 = folder }
            atexit { PostgresTestServer.stopSharedServer() }
            return url
        }
    }

    /// The shared server's folder, for the exit handler.
    private static let sharedFolder = Locked<String?>(nil)

    private static func stopSharedServer() {
        guard let folder = sharedFolder.withLock({ $0 }) else { return }
        // At exit no task may run: a blocking wait is the only way.
        if let child = try? ChildProcess("/bin/bash", [script, "stop", folder]) { child.waitUntilExit() }
    }

    /// Starts a server in `folder` and returns its URL.
    static func start(in folder: String) async throws -> String {
        guard program("initdb") != nil else { throw Unavailable(message: unavailableReason) }
        return try await runScript(["start", folder, "--owner-pid", String(getpid())])
    }

    /// Runs `Tools/postgres-test-server.sh` with `arguments` and returns what it printed, trimmed. Bounded: the
    /// script bounds its own waits, and is killed after two minutes anyway.
    static func runScript(_ arguments: [String]) async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("acty-postgres-\(UUID().uuidString).log").path
        defer {
            try? FileManager.default.removeItem(atPath: output)
            try? FileManager.default.removeItem(atPath: output + ".err")
        }
        let child = try ChildProcess("/bin/bash", [script] + arguments, standardOutput: output, standardError: output + ".err")
        let exit = try await exited(child, within: .seconds(120))
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard exit == .status(0) else {
            let errors = (try? String(contentsOfFile: output + ".err", encoding: .utf8)) ?? ""
            throw Unavailable(message: "postgres-test-server.sh \(arguments.first ?? "") failed (\(exit)): \(errors)")
        }
        return printed.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs one SQL command with `psql` against `url`.
    private static func psql(_ url: String, _ command: String) async throws {
        guard let psql = program("psql") else { throw Unavailable(message: "psql was not found; install postgresql-15") }
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("acty-psql-\(UUID().uuidString).err").path
        defer { try? FileManager.default.removeItem(atPath: errors) }
        let child = try ChildProcess(psql, [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command], standardError: errors)
        let exit = try await exited(child, within: .seconds(60))
        guard exit == .status(0) else {
            let message = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            throw Unavailable(message: "psql -c \"\(command)\" failed (\(exit)): \(message)")
        }
    }

    private static func exited(_ child: ChildProcess, within limit: Duration) async throws -> ChildProcess.Exit {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let ended = child.ended { return ended }
            try await Task.sleep(for: .milliseconds(10))
        }
        child.send(SIGKILL)
        await child.exited()
        throw Unavailable(message: "\(child.pid) did not finish within \(limit)")
    }

    /// The script, found from this file's place in the package (`Sources/ActyTestSupport/…`).
    private static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/postgres-test-server.sh").path
    }

    /// A PostgreSQL program: on `PATH`, else in Debian's `/usr/lib/postgresql/<version>/bin`, newest first.
    static func program(_ name: String) -> String? {
        let manager = FileManager.default
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") where manager.isExecutableFile(atPath: "\(folder)/\(name)") {
            return "\(folder)/\(name)"
        }
        let versions = (try? manager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) })
        where manager.isExecutableFile(atPath: "/usr/lib/postgresql/\(version)/bin/\(name)") {
            return "/usr/lib/postgresql/\(version)/bin/\(name)"
        }
        return nil
    }

    /// PostgreSQL could not be started or used.
    public struct Unavailable: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }
}
