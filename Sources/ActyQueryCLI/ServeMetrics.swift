import ActyCore
import ActyStore
import ArgumentParser
import Dispatch
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// `acty-query serve-metrics`: the database's metrics over HTTP, for Prometheus to scrape.
///
/// A small SwiftNIO HTTP/1.1 server (swift-nio is already what Hummingbird and swift-prometheus build on; one
/// route needs neither a router nor a metrics registry, and `acty-query metrics` renders the text). It reads the file
/// on every scrape and runs until SIGINT or SIGTERM.
struct ServeMetrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-metrics",
        abstract: "Serve the database's metrics at /metrics over HTTP until SIGINT or SIGTERM.",
        discussion: """
            Each scrape reads the file, as acty-query metrics does (same metrics). --port 0 picks a free port; the
            first line printed says where it listens. Other paths answer 404; a database that cannot be read answers
            500 with the reason.

            Example:
              acty-query serve-metrics acty.db --port 9464
            """
    )

    @Argument(help: "The Acty database file (opened read-only on each scrape).")
    var db: String

    @Option(parsing: .unconditional, help: "The TCP port to listen on (0 for any free port).")
    var port: Int

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, not \(port).") }
    }

    func run() async throws {
        // A path that is not an Acty database fails now, not at the first scrape.
        try reportingErrors { _ = try openReadOnly(db) }
        let path = db
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 64)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(path: path))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            try? await group.shutdownGracefully()
            FileHandle.standardError.write(Data("error: cannot listen on \(host):\(port): \(error)\n".utf8))
            throw ExitCode(1)
        }
        let signal = await TerminationSignal.wait {
            emit("serving http://\(host):\(channel.localAddress?.port ?? port)/metrics\n")
        }
        FileHandle.standardError.write(Data("received \(signal == SIGINT ? "SIGINT" : "SIGTERM"), stopping\n".utf8))
        try? await channel.close()
        try await group.shutdownGracefully()
    }
}

/// Answers `GET /metrics` with the database's metrics; closes each connection after its answer.
private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let path: String
    private var request: HTTPRequestHead?

    init(path: String) { self.path = path }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let request else { return }
            self.request = nil
            let (status, body) = answer(request)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: status == .ok ? PrometheusText.contentType : "text/plain; charset=utf-8")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
            if request.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func answer(_ request: HTTPRequestHead) -> (HTTPResponseStatus, String) {
        let route = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        guard route == "/metrics" else { return (.notFound, "not found: the metrics are at /metrics\n") }
        guard request.method == .GET || request.method == .HEAD else { return (.methodNotAllowed, "use GET\n") }
        do {
            return (.ok, PrometheusText.render(try Store.openReadOnly(path).metricsSnapshot()))
        } catch let error as ActyError {
            return (.internalServerError, "error: \(error.message)\n")
        } catch {
            return (.internalServerError, "error: \(error)\n")
        }
    }
}

/// Waits for SIGINT or SIGTERM, which stop being fatal while it waits.
enum TerminationSignal {
    /// Installs the handlers, runs `ready`, and returns the signal that came.
    static func wait(ready: () -> Void) async -> Int32 {
        let sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            return (number, DispatchSource.makeSignalSource(signal: number, queue: .global()))
        }
        let received: Int32 = await withCheckedContinuation { continuation in
            let once = OnceFlag()
            for (number, source) in sources {
                source.setEventHandler { if once.claim() { continuation.resume(returning: number) } }
                source.resume()
            }
            ready()
        }
        for (_, source) in sources { source.cancel() }
        return received
    }
}

/// True for the first caller of ``claim()`` only.
private final class OnceFlag: Sendable {
    private let claimed = Locked(false)

    func claim() -> Bool {
        claimed.withLock { claimed in
            defer { claimed = true }
            return !claimed
        }
    }
}
