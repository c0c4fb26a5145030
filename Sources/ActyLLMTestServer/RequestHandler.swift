import ActyCore
import Foundation
import NIOCore
import NIOHTTP1

/// Reads one HTTP request at a time and answers it as the ``LLMTestServer`` is scripted to.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: () -> LLMTestServer?
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var receivedAt = 0.0
    /// Whether a delayed answer is scheduled and not yet written.
    private var isAnswerPending = false

    init(server: @escaping () -> LLMTestServer?) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
            receivedAt = Date().timeIntervalSince1970
        case .body(var chunk):
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head, let server = server() else { return }
            let text = body.map { String(buffer: $0) } ?? ""
            self.head = nil
            body = nil
            let request = Request(head: head, body: text, receivedAt: receivedAt)
            let reply = Responder(server: server).respond(to: request)
            if server.options.recordRequests || !request.isChat {
                let headers = Dictionary(head.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
                let recorded = LLMTestServer.RecordedRequest(
                    method: head.method.rawValue, path: head.uri, headers: headers, body: text, receivedAt: receivedAt, status: reply.status
                )
                server.state.withLock { $0.requests.append(recorded) }
            }
            send(reply, keepAlive: head.isKeepAlive, context: context)
        }
    }

    /// Writes `reply`: at once, after its delay, or chunk by chunk.
    private func send(_ reply: Reply, keepAlive: Bool, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        var headers = HTTPHeaders([("Content-Type", reply.contentType)])
        for (name, value) in reply.headers { headers.add(name: name, value: value) }
        let write: (ChannelHandlerContext) -> Void
        switch reply.body {
        case .whole(let text, let cutAfterHalf):
            headers.add(name: "Content-Length", value: String(text.utf8.count))
            let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: reply.status), headers: headers)
            write = { context in
                context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
                if cutAfterHalf {
                    let half = String(decoding: Array(text.utf8.prefix(text.utf8.count / 2)), as: UTF8.self)
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: half)))), promise: nil)
                    context.close(promise: nil)
                    return
                }
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                Self.end(context, keepAlive: keepAlive)
            }
        case .events(let events, let ending):
            headers.replaceOrAdd(name: "Cache-Control", value: "no-cache")
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            write = { context in
                for event in events {
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "data: \(event)\n\n")))), promise: nil)
                }
                context.flush()
                switch ending {
                case .cut: context.close(promise: nil)
                case .clean: Self.end(context, keepAlive: keepAlive)
                }
            }
        }
        guard let delay = reply.delay else { return write(context) }
        // The scheduled task runs on the channel's own event loop, where the context, the closure and the handler may
        // be used.
        isAnswerPending = true
        let bound = NIOLoopBound((context, write, self), eventLoop: loop)
        loop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) {
            let (context, write, handler) = bound.value
            guard handler.isAnswerPending else { return }
            handler.isAnswerPending = false
            write(context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isAnswerPending {
            // The client gave up (cancelled, timed out) before the delayed answer was due.
            isAnswerPending = false
            server()?.state.withLock { $0.abandoned += 1 }
        }
        context.fireChannelInactive()
    }

    /// Ends the response, closing the connection when the client did not ask to keep it.
    private static func end(_ context: ChannelHandlerContext, keepAlive: Bool) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            if !keepAlive { bound.value.close(promise: nil) }
        }
    }
}

/// A request with its body, as the responder sees it.
struct Request {
    var head: HTTPRequestHead
    var body: String
    var receivedAt: Double

    var isChat: Bool { head.uri.hasSuffix("/chat/completions") }
    var path: String { head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri }
    func header(_ name: String) -> String? { head.headers.first(name: name) }
}

/// What to send back.
struct Reply {
    enum Body {
        /// One body; `cutAfterHalf` closes the connection after half of it.
        case whole(String, cutAfterHalf: Bool)
        /// Server-sent events (each a `data:` line's text), then a clean end or a cut connection.
        case events([String], ending: Ending)
    }

    enum Ending { case clean, cut }

    var status: Int
    var contentType = "application/json"
    var headers: [String: String] = [:]
    var body: Body
    var delay: Duration?

    static func json(_ status: Int, _ value: JSONValue, headers: [String: String] = [:]) -> Reply {
        Reply(status: status, headers: headers, body: .whole(value.jsonString, cutAfterHalf: false))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
