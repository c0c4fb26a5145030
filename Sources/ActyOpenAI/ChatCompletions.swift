package import Acty
package import AsyncHTTPClient
package import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

// The chat-completions wire code shared by the executors of this package (OpenAIExecutor, GigaChatExecutor): the
// request body from a job's payload, one HTTP call with its SSE assembly, and the classification of failures.

/// One chat completions request, ready to send.
package struct ChatCall: Sendable {
    package var url: String
    package var headers: [(String, String)]
    /// The JSON body; `stream` in it decides how the answer is read.
    package var body: JSONValue
    package var timeout: Duration

    package init(url: String, headers: [(String, String)], body: JSONValue, timeout: Duration) {
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }

    package var isStream: Bool { body["stream"]?.boolValue == true }
}

/// An assistant answer, read from a JSON response or assembled from a stream.
package struct ChatCompletion: Sendable {
    package var id: String?
    package var model: String?
    package var role = "assistant"
    package var content = ""
    package var finishReason: String?
    /// The provider's `usage` object as sent.
    package var usage: JSONValue?
    /// `tool_calls` of the message, when the model called tools (assembled from the deltas of a stream).
    package var toolCalls: JSONValue?

    /// Prompt, completion and cached prompt tokens from ``usage`` (`prompt_tokens_details.cached_tokens`, or
    /// GigaChat's `precached_prompt_tokens`); `nil` when the provider sent no usage.
    package var tokenUsage: TokenUsage? {
        guard let usage, case .object = usage else { return nil }
        let cached = usage["prompt_tokens_details"]?["cached_tokens"]?.intValue ?? usage["precached_prompt_tokens"]?.intValue ?? 0
        return TokenUsage(
            promptTokens: usage["prompt_tokens"]?.intValue ?? 0, completionTokens: usage["completion_tokens"]?.intValue ?? 0,
            cachedPromptTokens: cached
        )
    }

    /// The job output: `content`, `role`, `finish_reason`, `model`, `usage` (`null` when none was sent), `id`, and
    /// `tool_calls` when present.
    package var output: JSONValue {
        var object: [String: JSONValue] = [
            "content": .string(content), "role": .string(role), "finish_reason": finishReason.map(JSONValue.string) ?? .null,
            "model": model.map(JSONValue.string) ?? .null, "usage": usage ?? .null, "id": id.map(JSONValue.string) ?? .null,
        ]
        if let toolCalls { object["tool_calls"] = toolCalls }
        return .object(object)
    }
}

/// A failed call before it is turned into what the engine understands: the error and the provider's retry delay.
package struct ChatFailure: Error, Sendable {
    package var error: LLMProviderError
    /// From `Retry-After` (or `retry-after-ms`) on a retryable status.
    package var retryAfter: Duration?

    /// Removes `secret` (a token the caller sent) from the message.
    package mutating func redact(_ secret: String) {
        error.message = Redactor(secrets: [secret]).redact(error.message)
    }

    /// What the executor throws: `RetryAfterError` when the provider named a delay or refused with a 429 (marked as a
    /// rate limit, so the engine's rate limiter slows down; a 429 without `Retry-After` waits `rateLimitDelay`),
    /// ``NonRetryableError`` when a retry cannot help, the ``LLMProviderError`` itself (retried after the engine's
    /// backoff) otherwise.
    package func engineError(rateLimitDelay: Duration = .seconds(1)) -> any Error {
        guard error.isRetryable else { return NonRetryableError(error) }
        let isRateLimit = error.status == 429
        if let delay = retryAfter ?? (isRateLimit ? rateLimitDelay : nil) { return RetryAfterError(error, after: delay, isRateLimit: isRateLimit) }
        return error
    }
}

/// Sends chat completion calls over one `HTTPClient`.
package struct ChatTransport: Sendable {
    package let client: HTTPClient
    package let provider: String
    package let redactor: Redactor

    /// The largest answer read (a non-streaming body, or a stream's whole text).
    static let maximumAnswerBytes = 32 << 20
    /// The most of an error body read for its message.
    static let maximumErrorBytes = 64 << 10

    package init(client: HTTPClient, provider: String, redactor: Redactor) {
        self.client = client
        self.provider = provider
        self.redactor = redactor
    }

    /// Sends `call` and returns the answer.
    ///
    /// - Throws: `CancellationError` when the task was cancelled, ``ChatFailure`` for every other failure.
    package func send(_ call: ChatCall) async throws -> ChatCompletion {
        var request = HTTPClientRequest(url: call.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: call.isStream ? "text/event-stream" : "application/json")
        for (name, value) in call.headers { request.headers.add(name: name, value: value) }
        var bytes: [UInt8] = []
        call.body.writeJSON(into: &bytes)
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let deadline = NIODeadline.now() + .nanoseconds(Int64(call.timeout.components.seconds) * 1_000_000_000 + call.timeout.components.attoseconds / 1_000_000_000)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: deadline)
        } catch {
            throw failure(error, timeout: call.timeout, inStream: false)
        }
        guard response.status.code < 300 else { throw await statusFailure(response) }
        do {
            if call.isStream { return try await readStream(response.body) }
            let body = try await response.body.collect(upTo: Self.maximumAnswerBytes)
            return try parseCompletion(body)
        } catch let error as ChatFailure {
            throw error
        } catch {
            throw failure(error, timeout: call.timeout, inStream: true)
        }
    }

    /// A non-streaming answer.
    private func parseCompletion(_ body: ByteBuffer) throws(ChatFailure) -> ChatCompletion {
        guard let json = try? JSONValue(jsonUTF8: body.readableBytesView) else {
            throw invalid("the body is not JSON: \(String(buffer: body).prefix(200))")
        }
        guard let choice = json["choices"]?[0], let message = choice["message"] else {
            throw invalid("the answer has no choices[0].message")
        }
        var completion = ChatCompletion()
        completion.id = json["id"]?.stringValue
        completion.model = json["model"]?.stringValue
        completion.role = message["role"]?.stringValue ?? "assistant"
        completion.content = message["content"]?.stringValue ?? ""
        completion.finishReason = choice["finish_reason"]?.stringValue
        completion.usage = json["usage"].flatMap { $0.isNull ? nil : $0 }
        if let calls = message["tool_calls"], !calls.isNull { completion.toolCalls = calls }
        return completion
    }

    /// A streamed answer, assembled; complete only with `[DONE]` or a finish reason before the body's end.
    private func readStream(_ body: HTTPClientResponse.Body) async throws -> ChatCompletion {
        var completion = ChatCompletion()
        var parser = ServerSentEvents()
        var done = false
        var received = 0
        var toolCalls = StreamedToolCalls()
        func handle(_ data: String) throws(ChatFailure) {
            guard data != "[DONE]" else {
                done = true
                return
            }
            guard let event = try? JSONValue(jsonString: data) else { throw invalid("a stream event is not JSON: \(data.prefix(200))") }
            if let error = event["error"], !error.isNull {
                let message = error["message"]?.stringValue ?? error.jsonString
                throw ChatFailure(error: LLMProviderError(kind: .brokenStream, message: redactor.redact(message), provider: provider))
            }
            if let id = event["id"]?.stringValue { completion.id = id }
            if let model = event["model"]?.stringValue { completion.model = model }
            if let usage = event["usage"], !usage.isNull { completion.usage = usage }
            guard let choice = event["choices"]?[0] else { return }
            if let role = choice["delta"]?["role"]?.stringValue { completion.role = role }
            if let text = choice["delta"]?["content"]?.stringValue { completion.content += text }
            if let deltas = choice["delta"]?["tool_calls"]?.arrayValue { toolCalls.add(deltas) }
            if let reason = choice["finish_reason"]?.stringValue { completion.finishReason = reason }
        }
        for try await var buffer in body {
            received += buffer.readableBytes
            guard received <= Self.maximumAnswerBytes else { throw invalid("the stream is longer than \(Self.maximumAnswerBytes) bytes") }
            for data in parser.feed(buffer.readBytes(length: buffer.readableBytes) ?? []) where !done {
                try handle(data)
            }
        }
        for data in parser.finish() where !done { try handle(data) }
        completion.toolCalls = toolCalls.assembled
        guard done || completion.finishReason != nil else {
            throw ChatFailure(
                error: LLMProviderError(
                    kind: .brokenStream, message: "the stream ended after \(completion.content.count) characters without a finish reason or [DONE]",
                    provider: provider
                )
            )
        }
        return completion
    }

    /// The failure for an error status: the provider's message and its `Retry-After`.
    private func statusFailure(_ response: HTTPClientResponse) async -> ChatFailure {
        var text = ""
        do {
            var collected = ByteBuffer()
            for try await var chunk in response.body {
                collected.writeBuffer(&chunk)
                if collected.readableBytes >= Self.maximumErrorBytes { break }
            }
            text = String(buffer: collected)
        } catch {
            text = ""
        }
        let status = Int(response.status.code)
        let message = Self.errorMessage(in: text) ?? (text.isEmpty ? response.status.reasonPhrase : text)
        let error = LLMProviderError(kind: .httpStatus, status: status, message: redactor.redact(message), provider: provider)
        var delay: Duration?
        if error.isRetryable {
            if let milliseconds = response.headers.first(name: "retry-after-ms").flatMap(Double.init), milliseconds >= 0 {
                delay = .milliseconds(milliseconds)
            } else if let value = response.headers.first(name: "Retry-After") {
                delay = Self.retryAfter(value)
            }
        }
        return ChatFailure(error: error, retryAfter: delay)
    }

    /// The provider's own message in an error body: `{"error": {"message": …}}`, `{"error": "…"}` or `{"message": …}`.
    package static func errorMessage(in text: String) -> String? {
        guard let json = try? JSONValue(jsonString: text) else { return nil }
        return json["error"]?["message"]?.stringValue ?? json["error"]?.stringValue ?? json["message"]?.stringValue ?? json["detail"]?.stringValue
    }

    /// A `Retry-After` value as a delay from now: whole or decimal seconds, or an HTTP date (a past date is no delay).
    package static func retryAfter(_ value: String, now: Date = Date()) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds.isFinite, seconds >= 0 { return .milliseconds(Int64((seconds * 1000).rounded())) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .milliseconds(max(0, Int64((date.timeIntervalSince(now) * 1000).rounded(.up))))
    }

    /// A thrown transport error as a failure; cancellation stays cancellation.
    private func failure(_ error: any Error, timeout: Duration, inStream: Bool) -> any Error {
        if error is CancellationError || Task.isCancelled { return CancellationError() }
        if let error = error as? ChatFailure { return error }
        let kind: LLMProviderError.Kind
        var message = redactor.redact(String(describing: error))
        if let client = error as? HTTPClientError,
            client == .deadlineExceeded || client == .readTimeout || client == .connectTimeout || client == .writeTimeout
        {
            kind = .timeout
            message = "no complete answer within \(timeout) (\(message))"
        } else if inStream {
            kind = .brokenStream
        } else if error is NIOTooManyBytesError {
            kind = .invalidResponse
            message = "the answer is longer than \(Self.maximumAnswerBytes) bytes"
        } else {
            kind = .connection
        }
        return ChatFailure(error: LLMProviderError(kind: kind, message: message, provider: provider))
    }

    private func invalid(_ message: String) -> ChatFailure {
        ChatFailure(error: LLMProviderError(kind: .invalidResponse, message: redactor.redact(message), provider: provider))
    }
}

/// The tool calls of a stream: each delta names its call by `index`; `id`, `type` and the function's `name` come
/// once, the function's `arguments` in pieces to join.
struct StreamedToolCalls {
    private var calls: [Int: (id: JSONValue?, type: JSONValue?, name: String, arguments: String)] = [:]

    mutating func add(_ deltas: [JSONValue]) {
        for delta in deltas {
            let index = delta["index"]?.intValue ?? 0
            var call = calls[index] ?? (nil, nil, "", "")
            if let id = delta["id"], !id.isNull { call.id = id }
            if let type = delta["type"], !type.isNull { call.type = type }
            if let name = delta["function"]?["name"]?.stringValue { call.name += name }
            if let arguments = delta["function"]?["arguments"]?.stringValue { call.arguments += arguments }
            calls[index] = call
        }
    }

    /// The calls in the shape of a non-streamed message's `tool_calls`; `nil` when there were none.
    var assembled: JSONValue? {
        guard !calls.isEmpty else { return nil }
        return .array(
            calls.keys.sorted().map { index in
                let call = calls[index]!
                return [
                    "id": call.id ?? .null, "type": call.type ?? "function",
                    "function": ["name": .string(call.name), "arguments": .string(call.arguments)],
                ]
            }
        )
    }
}

/// Splits a byte stream into server-sent events' `data` texts (several `data:` lines of one event are joined by a
/// newline; comments and other fields are skipped).
package struct ServerSentEvents: Sendable {
    private var line: [UInt8] = []
    private var data: [String] = []

    package init() {}

    /// The events completed by `bytes`.
    package mutating func feed(_ bytes: [UInt8]) -> [String] {
        var events: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                if let event = endLine() { events.append(event) }
            } else {
                line.append(byte)
            }
        }
        return events
    }

    /// The event left when the stream ends without a blank line after it.
    package mutating func finish() -> [String] {
        var events: [String] = []
        if !line.isEmpty, let event = endLine() { events.append(event) }
        if let event = endLine() { events.append(event) }
        return events
    }

    private mutating func endLine() -> String? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard !data.isEmpty else { return nil }
            defer { data.removeAll() }
            return data.joined(separator: "\n")
        }
        guard line.starts(with: Array("data:".utf8)) else { return nil }
        var value = line.dropFirst(5)
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        data.append(String(decoding: value, as: UTF8.self))
        return nil
    }
}
