import ActyTestSupport
import Acty
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `acty-query metrics` and `serve-metrics`: the database's metrics in the Prometheus text format, parsed by a small
/// parser of the format written for these tests, and scraped over real HTTP from the running tool.
@Suite(.timeLimit(.minutes(1)))
struct MetricsCommandTests {
    @Test func metricsPrintsThePrometheusTextFormatComputedFromTheDatabase() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let run = try await QueryTool.run(["metrics", database.path])
        #expect(run.status == 0, "\(run.stderr)")
        let exposition = try PrometheusExposition(run.stdout)

        // `ok`: a primer and two followers succeeded in lane fast; `doomed`: its primer failed, its follower too.
        #expect(exposition.value("acty_jobs", ["lane": "fast", "role": "primer", "executor": "work", "state": "succeeded"]) == 1)
        #expect(exposition.value("acty_jobs", ["lane": "fast", "role": "follower", "executor": "work", "state": "succeeded"]) == 2)
        #expect(exposition.value("acty_jobs", ["lane": "slow", "role": "primer", "executor": "work", "state": "failed"]) == 1)
        #expect(exposition.sum("acty_jobs") == 5)
        #expect(exposition.value("acty_attempts", ["lane": "fast", "executor": "work", "outcome": "succeeded"]) == 3)
        #expect(exposition.value("acty_attempts", ["lane": "slow", "executor": "work", "outcome": "failed"]) == 1)
        #expect(exposition.value("acty_groups", ["state": "succeeded"]) == 1)
        #expect(exposition.value("acty_groups", ["state": "failed"]) == 1)
        #expect(exposition.value("acty_workers_alive", [:]) == 0)
        #expect(exposition.sum("acty_queue_depth") == 0 && exposition.sum("acty_retries") == 0)
        // Every family is declared, as a gauge, before its samples; no label carries a group key or a job id.
        #expect(exposition.types["acty_jobs"] == "gauge" && exposition.types["acty_oldest_ready_age_seconds"] == "gauge")
        #expect(exposition.samples.allSatisfy { exposition.types[$0.name] != nil })
        #expect(!exposition.samples.flatMap(\.labels.values).contains { ["ok", "doomed"].contains($0) })
    }

    @Test func queueDepthAndTheOldestReadyJobShowWorkWaiting() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        // Stored but never run: the engine does not run in the background.
        let engine = try await ActyEngine(database: .file(path), executors: [EchoExecutor()], runsInBackground: false)
        _ = try await engine.submitGroup("waiting", primer: 1, followers: [2, 3], lane: "queued")
        try await engine.shutdown()
        let exposition = try PrometheusExposition(try await QueryTool.run(["metrics", path]).stdout)
        #expect(exposition.value("acty_queue_depth", ["lane": "queued", "state": "ready"]) == 1)
        #expect(exposition.value("acty_queue_depth", ["lane": "queued", "state": "blocked"]) == 2)
        #expect((exposition.value("acty_oldest_ready_age_seconds", ["lane": "queued"]) ?? -1) >= 0)
    }

    @Test func aMissingDatabaseIsAClearError() async throws {
        let folder = TemporaryDirectory()
        let run = try await QueryTool.run(["metrics", folder.file("missing.db")])
        #expect(run.status == 1)
        #expect(run.stderr.contains("no database file at"))
        #expect(run.stdout.isEmpty)
    }

    @Test func serveMetricsAnswersScrapesOverHTTPAndStopsOnSIGTERM() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let server = try QueryTool.Child(["serve-metrics", database.path, "--port", "0"], in: folder)
        defer { server.process.send(SIGKILL) }
        var port: UInt16?
        let announced = try await waitFor(timeout: .seconds(20)) {
            guard let line = server.stdout.split(separator: "\n").first, let match = line.firstMatch(of: /127\.0\.0\.1:(\d+)\/metrics/) else {
                return false
            }
            port = UInt16(match.1)
            return true
        }
        #expect(announced, "serve-metrics did not say where it listens: \(server.stderr)")
        let listening = try #require(port)

        let scrape = try HTTPGet.run(port: listening, path: "/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let exposition = try PrometheusExposition(scrape.body)
        #expect(exposition.value("acty_jobs", ["lane": "fast", "role": "follower", "executor": "work", "state": "succeeded"]) == 2)
        // The same numbers as the one-shot command.
        let printed = try PrometheusExposition(try await QueryTool.run(["metrics", database.path]).stdout)
        #expect(exposition.samples.map(\.description) == printed.samples.map(\.description))
        #expect(try HTTPGet.run(port: listening, path: "/other").status == 404)

        server.process.send(SIGTERM)
        let stopped = try await waitFor(timeout: .seconds(10)) { server.process.ended != nil }
        #expect(stopped)
        #expect(server.process.ended == .status(0), "\(server.stderr)")
    }

    private func waitFor(timeout: Duration, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }
}

/// A Prometheus text exposition (format 0.0.4), parsed: `# TYPE` lines and samples `name{label="value",…} number`.
struct PrometheusExposition {
    struct Sample: CustomStringConvertible {
        var name: String
        var labels: [String: String]
        var value: Double
        var description: String { "\(name)\(labels.sorted { $0.key < $1.key }) \(value)" }
    }

    struct Malformed: Error, CustomStringConvertible {
        var line: String
        var description: String { "not a Prometheus sample or comment: \(line)" }
    }

    var types: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4 else { throw Malformed(line: line) }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            samples.append(try Self.sample(line))
        }
    }

    private static func sample(_ line: String) throws -> Sample {
        var rest = Substring(line)
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
        guard !name.isEmpty else { throw Malformed(line: line) }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = rest.prefix { $0 != "=" }
                rest = rest.dropFirst(label.count)
                guard rest.hasPrefix("=\"") else { throw Malformed(line: line) }
                rest = rest.dropFirst(2)
                var value = ""
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\", let escaped = rest.first {
                        rest = rest.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(character)
                    }
                }
                guard rest.first == "\"" else { throw Malformed(line: line) }
                rest = rest.dropFirst()
                labels[String(label)] = value
                if rest.first == "," { rest = rest.dropFirst() }
                guard !rest.isEmpty else { throw Malformed(line: line) }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " ", let value = Double(rest.dropFirst()) else { throw Malformed(line: line) }
        return Sample(name: String(name), labels: labels, value: value)
    }

    /// The value of the sample with exactly these labels.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The sum of every sample of a family.
    func sum(_ name: String) -> Double { samples.filter { $0.name == name }.reduce(0) { $0 + $1.value } }
}

/// One HTTP/1.1 GET over a plain socket to 127.0.0.1, with a 10 s timeout on every read and write.
enum HTTPGet {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    static func run(port: UInt16, path: String) throws -> Response {
        #if canImport(Glibc)
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let socket = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard socket >= 0 else { throw Failed(description: "socket() failed: \(errno)") }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failed(description: "connect to port \(port) failed: \(errno)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard send(socket, request, request.count, 0) == request.count else { throw Failed(description: "send failed: \(errno)") }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count == 0 { break }
            guard count > 0 else { throw Failed(description: "recv failed (timeout?): \(errno)") }
            received += buffer[0..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failed(description: "no end of headers in: \(text)") }
        let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
        guard let statusLine = head.first, let status = Int(statusLine.split(separator: " ")[1]) else {
            throw Failed(description: "no status line in: \(text)")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}
