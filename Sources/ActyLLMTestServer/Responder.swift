import ActyCore
import Foundation

/// Decides the answer to one request: authentication, the OAuth endpoint, scripted rules and chat completions.
struct Responder {
    let server: LLMTestServer

    func respond(to request: Request) -> Reply {
        if request.path.hasSuffix("/api/v2/oauth") { return oauth(request) }
        guard request.isChat else {
            return .json(404, ["error": ["message": .string("no route for \(request.path)"), "type": "not_found"]])
        }
        server.state.withLock { $0.chatCount += 1 }
        if let refusal = checkAuthorization(request) { return refusal }
        guard let body = try? JSONValue(jsonString: request.body), let messages = body["messages"]?.arrayValue else {
            return .json(400, ["error": ["message": "the body must be a JSON object with a 'messages' array", "type": "invalid_request_error"]])
        }
        let behaviour = server.state.withLock { $0.behaviour(for: request.body) }
        var delay: Duration?
        var answer = "echo: " + (messages.last?["content"]?.stringValue ?? "")
        switch behaviour {
        case .status(let status, let headers, let text):
            return Reply(status: status, headers: headers, body: .whole(text, cutAfterHalf: false))
        case .reply(let text):
            answer = text
        case .delay(let duration):
            delay = duration
        case .brokenStream, .incompleteStream, .toolCall, nil:
            break
        }
        let model = body["model"]?.stringValue ?? server.options.model
        let usage = usage(messages: messages, answer: answer, cacheKey: body["prompt_cache_key"]?.stringValue ?? request.header("X-Session-ID"))
        let id = "chatcmpl-\(UUID().uuidString.prefix(8).lowercased())"
        let created = JSONValue.number(Double(Int(request.receivedAt)))
        if case .toolCall(let name, let arguments) = behaviour {
            return toolCall(name: name, arguments: arguments, id: id, created: created, model: model, usage: usage, stream: body["stream"]?.boolValue == true)
        }
        guard body["stream"]?.boolValue == true else {
            let completion: JSONValue = [
                "id": .string(id), "object": "chat.completion", "created": created, "model": .string(model),
                "choices": [["index": 0, "message": ["role": "assistant", "content": .string(answer)], "finish_reason": "stop"]],
                "usage": usage,
            ]
            if case .brokenStream = behaviour {
                return Reply(status: 200, body: .whole(completion.jsonString, cutAfterHalf: true))
            }
            var reply = Reply.json(200, completion)
            reply.delay = delay
            return reply
        }
        func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> String {
            let value: JSONValue = [
                "id": .string(id), "object": "chat.completion.chunk", "created": created, "model": .string(model),
                "choices": [["index": 0, "delta": delta, "finish_reason": finish]],
            ]
            return value.jsonString
        }
        let pieces = Self.pieces(of: answer)
        var events = [chunk(["role": "assistant", "content": ""])] + pieces.map { chunk(["content": .string($0)]) }
        switch behaviour {
        case .brokenStream(let count):
            return Reply(status: 200, contentType: "text/event-stream", body: .events(Array(events.prefix(1 + count)), ending: .cut), delay: delay)
        case .incompleteStream:
            return Reply(status: 200, contentType: "text/event-stream", body: .events(events, ending: .clean), delay: delay)
        default:
            break
        }
        events.append(chunk([:], finish: "stop"))
        if body["stream_options"]?["include_usage"]?.boolValue == true {
            let last: JSONValue = [
                "id": .string(id), "object": "chat.completion.chunk", "created": created, "model": .string(model), "choices": [], "usage": usage,
            ]
            events.append(last.jsonString)
        }
        events.append("[DONE]")
        return Reply(status: 200, contentType: "text/event-stream", body: .events(events, ending: .clean), delay: delay)
    }

    /// An answer that calls a function, whole or as a stream whose arguments come in two pieces.
    private func toolCall(name: String, arguments: String, id: String, created: JSONValue, model: String, usage: JSONValue, stream: Bool) -> Reply {
        let callID = JSONValue.string("call_\(id.suffix(8))")
        guard stream else {
            let call: JSONValue = ["id": callID, "type": "function", "function": ["name": .string(name), "arguments": .string(arguments)]]
            let completion: JSONValue = [
                "id": .string(id), "object": "chat.completion", "created": created, "model": .string(model),
                "choices": [["index": 0, "message": ["role": "assistant", "content": .null, "tool_calls": [call]], "finish_reason": "tool_calls"]],
                "usage": usage,
            ]
            return .json(200, completion)
        }
        func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> String {
            let value: JSONValue = [
                "id": .string(id), "object": "chat.completion.chunk", "created": created, "model": .string(model),
                "choices": [["index": 0, "delta": delta, "finish_reason": finish]],
            ]
            return value.jsonString
        }
        let half = arguments.index(arguments.startIndex, offsetBy: arguments.count / 2)
        let events = [
            chunk(["role": "assistant", "content": .null]),
            chunk(["tool_calls": [["index": 0, "id": callID, "type": "function", "function": ["name": .string(name), "arguments": .string(String(arguments[..<half]))]]]]),
            chunk(["tool_calls": [["index": 0, "function": ["arguments": .string(String(arguments[half...]))]]]]),
            chunk([:], finish: "tool_calls"),
            "[DONE]",
        ]
        return Reply(status: 200, contentType: "text/event-stream", body: .events(events, ending: .clean))
    }

    /// A 401 when the chat call's credentials are missing or wrong; `nil` when it may go on.
    private func checkAuthorization(_ request: Request) -> Reply? {
        let presented = request.header("Authorization").flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        switch server.options.auth {
        case .none:
            return nil
        case .apiKey(let key):
            guard presented != key else { return nil }
            // OpenAI quotes (part of) the key it was sent; so does this server, in full, to test redaction.
            let message = "Incorrect API key provided: \(presented ?? "(none)"). You can find your API key at https://example.invalid/keys."
            return .json(401, ["error": ["message": .string(message), "type": "invalid_request_error", "code": "invalid_api_key"]])
        case .oauth:
            let now = Date().timeIntervalSince1970
            let valid = server.state.withLock { state in
                guard let presented, let index = state.tokensIssued.firstIndex(where: { $0.token == presented }) else { return false }
                return index >= state.revokedBefore && state.tokensIssued[index].expiresAt > now
            }
            if valid { return nil }
            return .json(401, ["status": 401, "message": .string("Token has expired or is invalid: \(presented ?? "(none)")")])
        }
    }

    /// `POST /api/v2/oauth`: a token for the right Basic credentials and a `RqUID`.
    private func oauth(_ request: Request) -> Reply {
        guard case .oauth(let credentials, let lifetime) = server.options.auth else {
            return .json(404, ["message": "this server was not started with OAuth"])
        }
        guard request.header("Authorization") == "Basic \(credentials)" else {
            return .json(401, ["code": 6, "message": "credentials doesn't match db data"])
        }
        guard let rqUID = request.header("RqUID"), UUID(uuidString: rqUID) != nil else {
            return .json(400, ["code": 5, "message": "RqUID header is missing or not a UUID"])
        }
        guard request.body.contains("scope=") else {
            return .json(400, ["code": 7, "message": "scope is missing"])
        }
        let expiresAt = Date().timeIntervalSince1970 + Double(lifetime.components.seconds) + Double(lifetime.components.attoseconds) / 1e18
        let token = server.state.withLock { state in
            let token = "tok-\(state.tokensIssued.count + 1)-\(UUID().uuidString.lowercased())"
            state.tokensIssued.append((token, expiresAt))
            return token
        }
        return .json(200, ["access_token": .string(token), "expires_at": .number((expiresAt * 1000).rounded())])
    }

    /// The usage object, with cached tokens from the previous request under the same cache key.
    private func usage(messages: [JSONValue], answer: String, cacheKey: String?) -> JSONValue {
        let prompt = messages.reduce(0) { $0 + Self.words($1["content"]?.stringValue ?? "") }
        let completion = Self.words(answer)
        var cached = 0
        if let cacheKey {
            let previous = server.state.withLock { state in
                defer { state.prefixCache[cacheKey] = messages }
                return state.prefixCache[cacheKey] ?? []
            }
            // The leading messages both requests share, except this request's last one (the new question).
            for (old, new) in zip(previous, messages.dropLast()) {
                guard old == new else { break }
                cached += Self.words(new["content"]?.stringValue ?? "")
            }
        }
        return [
            "prompt_tokens": .number(Double(prompt)), "completion_tokens": .number(Double(completion)),
            "total_tokens": .number(Double(prompt + completion)), "prompt_tokens_details": ["cached_tokens": .number(Double(cached))],
        ]
    }

    private static func words(_ text: String) -> Int {
        text.split(whereSeparator: \.isWhitespace).count
    }

    /// The answer cut into up to three pieces, as a model streams it.
    private static func pieces(of text: String) -> [String] {
        let characters = Array(text)
        guard characters.count >= 3 else { return characters.isEmpty ? [] : [text] }
        let third = characters.count / 3
        return [String(characters[..<third]), String(characters[third..<(2 * third)]), String(characters[(2 * third)...])]
    }
}
