package import Acty

/// Reads a job's payload in the original's shape and builds the chat completions body.
///
/// A payload gives its messages as `messages` (an array of `{"role": …, "content": …}`), or as a `prompt` or `input`
/// string (one user message; an `input` array is taken as messages), optionally after a `system` string. Per-job
/// overrides: `model`, `temperature`, `max_tokens`, `max_completion_tokens`, `top_p`, `stop`, `seed`,
/// `presence_penalty`, `frequency_penalty`, `response_format`, `tools`, `tool_choice`, `user`; any other body
/// field under `options` (an object merged into the body last). `stream` (a boolean) and `timeout_s` (seconds) change
/// how this one call is made.
package enum ChatPayload {
    /// Payload fields copied into the body as they are.
    static let overrides = [
        "model", "temperature", "max_tokens", "max_completion_tokens", "top_p", "stop", "seed", "presence_penalty",
        "frequency_penalty", "response_format", "tools", "tool_choice", "user",
    ]

    /// The job's own messages.
    ///
    /// - Throws: ``NonRetryableError`` when the payload has no usable messages: no retry can fix the payload.
    package static func messages(in payload: JSONValue) throws -> [JSONValue] {
        var messages: [JSONValue]
        if let list = payload["messages"] {
            guard let array = list.arrayValue, !array.isEmpty else {
                throw NonRetryableError("the payload's 'messages' must be a non-empty array of {\"role\", \"content\"} objects")
            }
            messages = array
        } else if let input = payload["input"]?.arrayValue, !input.isEmpty {
            messages = input
        } else if let text = payload["prompt"]?.stringValue ?? payload["input"]?.stringValue {
            messages = [["role": "user", "content": .string(text)]]
        } else {
            throw NonRetryableError(
                "the payload has no 'messages' array, 'prompt' string or 'input' string; e.g. {\"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}"
            )
        }
        for (index, message) in messages.enumerated() {
            guard message["role"]?.stringValue != nil, message["content"] != nil || message["tool_calls"] != nil else {
                throw NonRetryableError("message \(index) of the payload needs a 'role' string and a 'content'; got \(message.jsonString.prefix(200))")
            }
        }
        if let system = payload["system"]?.stringValue {
            messages.insert(["role": "system", "content": .string(system)], at: 0)
        }
        return messages
    }

    /// The request body: the defaults, the payload's overrides and `options`, then the messages and streaming fields.
    package static func body(
        payload: JSONValue, messages: [JSONValue], model: String, defaults: [String: JSONValue], stream: Bool, promptCacheKey: String?,
        requestsStreamUsage: Bool = true
    ) -> JSONValue {
        var body = defaults
        body["model"] = .string(model)
        for key in overrides {
            if let value = payload[key], !value.isNull { body[key] = value }
        }
        if let options = payload["options"]?.objectValue {
            body.merge(options) { _, new in new }
        }
        if let promptCacheKey, body["prompt_cache_key"] == nil { body["prompt_cache_key"] = .string(promptCacheKey) }
        body["messages"] = .array(messages)
        body["stream"] = .bool(stream)
        if stream, requestsStreamUsage {
            var options = body["stream_options"]?.objectValue ?? [:]
            options["include_usage"] = true
            body["stream_options"] = .object(options)
        } else if !stream {
            body["stream_options"] = nil
        }
        return .object(body)
    }

    /// Whether this job streams: the payload's `stream` boolean, else the executor's setting.
    package static func stream(_ payload: JSONValue, default value: Bool) -> Bool {
        payload["stream"]?.boolValue ?? value
    }

    /// The call's timeout: the payload's `timeout_s` (positive seconds), else the executor's.
    package static func timeout(_ payload: JSONValue, default value: Duration) -> Duration {
        guard let seconds = payload["timeout_s"]?.doubleValue, seconds.isFinite, seconds > 0 else { return value }
        return .milliseconds(Int64((seconds * 1000).rounded(.up)))
    }
}

/// The messages a follower is sent in front of its own: its group's primer's messages and, optionally, the primer's
/// answer. Read once per group through `Job.primer()` and kept in memory, so that a group's followers do not each
/// read the primer back from the database; concurrent followers of one group share one read.
package final class PrimerPrefixCache: Sendable {
    /// Each group's read, and the groups in the order they were first asked for.
    private let entries = Locked<(tasks: [String: Task<[JSONValue], any Error>], order: [String])>(([:], []))
    /// How many groups' prefixes are kept; the oldest is dropped past it.
    private let capacity: Int
    private let readCount = Locked(0)

    /// How many times a primer was read from the database (for tests: once per group, however many followers).
    package var reads: Int { readCount.withLock { $0 } }

    package init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    /// The prefix for `job`: empty for a primer, or when the group's primer left nothing to reuse.
    package func prefix(for job: Job, includeAnswer: Bool) async throws -> [JSONValue] {
        guard job.role == .follower else { return [] }
        let key = job.groupKey
        let task = entries.withLock { entries -> Task<[JSONValue], any Error> in
            if let task = entries.tasks[key] { return task }
            readCount.withLock { $0 += 1 }
            let task = Task { try await Self.read(job, includeAnswer: includeAnswer) }
            entries.tasks[key] = task
            entries.order.append(key)
            if entries.order.count > capacity { entries.tasks[entries.order.removeFirst()] = nil }
            return task
        }
        do {
            return try await task.value
        } catch {
            // A failed read (the database busy, say) is not kept: the next follower reads again.
            entries.withLock { entries in
                if entries.tasks[key] == task { entries.tasks[key] = nil }
            }
            throw error
        }
    }

    private static func read(_ job: Job, includeAnswer: Bool) async throws -> [JSONValue] {
        guard let primer = try await job.primer() else { return [] }
        guard var messages = try? ChatPayload.messages(in: primer.payload) else { return [] }
        if includeAnswer, let answer = primer.output?["content"]?.stringValue {
            messages.append(["role": .string(primer.output?["role"]?.stringValue ?? "assistant"), "content": .string(answer)])
        }
        return messages
    }
}
