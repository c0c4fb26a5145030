import Acty
import ActyCore

/// The JSON-lines protocol between a ``ProcessExecutor`` and its workers (`Python/acty_bridge.py` speaks it).
///
/// Request, one line: `{"id": 7, "job": {"id": "12", "group_key": …, "role": "primer"|"follower",
/// "follower_index": 0|null, "lane": …, "attempt": 1, "payload": …, "group_context": …|null,
/// "cache": {"key": …, "provider_ref": …|null}|null, "primer": {"payload": …, "output": …|null}|null}}`.
///
/// Response, one line: `{"id": 7, "ok": true, "output": …, "usage": {"prompt_tokens": …, "completion_tokens": …,
/// "cached_prompt_tokens": …}}` or `{"id": 7, "ok": false, "error": {"type": …, "message": …}, "retryable": true,
/// "retry_after": 1.5, "rate_limited": false, "usage": …}`; `usage`, `retryable` (default `true`), `retry_after` and
/// `rate_limited` are optional.
enum BridgeProtocol {
    /// A worker's answer to a request.
    struct Response {
        enum Outcome {
            case succeeded(JSONValue)
            case failed(JobError, retryable: Bool, retryAfter: Duration?, rateLimited: Bool)
        }

        var outcome: Outcome
        var usage: TokenUsage?
    }

    /// The request line for `job`, newline included.
    static func request(id: UInt64, job: Job, primer: PrimerOutcome?, sendsPrimer: Bool) -> [UInt8] {
        var fields: [String: JSONValue] = [
            "id": .string(job.id.description),
            "group_key": .string(job.groupKey),
            "role": .string(job.role.rawValue),
            "follower_index": job.followerIndex.map { .number(Double($0)) } ?? .null,
            "lane": .string(job.lane),
            "attempt": .number(Double(job.attempt)),
            "payload": job.payload,
            "group_context": job.groupContext ?? .null,
            "cache": job.cache.map { ["key": .string($0.key), "provider_ref": $0.providerRef.map(JSONValue.string) ?? .null] } ?? .null,
        ]
        if sendsPrimer {
            fields["primer"] = primer.map { ["payload": $0.payload, "output": $0.output ?? .null] } ?? .null
        }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        JSONValue.object(["id": .number(Double(id)), "job": .object(fields)]).writeJSON(into: &line)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// Reads a response line; throws a description of what is wrong with it.
    static func response(_ line: [UInt8], expecting id: UInt64) throws(MalformedResponse) -> Response {
        let value: JSONValue
        do {
            value = try JSONValue(jsonUTF8: line)
        } catch {
            throw MalformedResponse(code: .malformedResponse, message: "the worker wrote a line that is not JSON (\(error)): \(excerpt(line))")
        }
        guard case .object(let fields) = value else {
            throw MalformedResponse(code: .malformedResponse, message: "the worker wrote a JSON line that is not an object: \(excerpt(line))")
        }
        guard let answered = fields["id"], answered == .number(Double(id)) else {
            let got = fields["id"].map(\.jsonString) ?? "no id"
            throw MalformedResponse(code: .unexpectedResponse, message: "the worker answered request \(got) while request \(id) was waiting")
        }
        guard let ok = fields["ok"]?.boolValue else {
            throw MalformedResponse(code: .malformedResponse, message: "the response has no boolean \"ok\": \(excerpt(line))")
        }
        let usage = fields["usage"].flatMap(tokenUsage)
        if ok { return Response(outcome: .succeeded(fields["output"] ?? .null), usage: usage) }
        let error = fields["error"]
        let jobError = JobError(
            type: error?["type"]?.stringValue ?? "WorkerError",
            message: error?["message"]?.stringValue ?? error?.stringValue ?? "the worker reported an error without a message"
        )
        let retryAfter = fields["retry_after"]?.doubleValue.flatMap { $0.isFinite && $0 >= 0 ? Duration.milliseconds(Int64($0 * 1000)) : nil }
        return Response(
            outcome: .failed(jobError, retryable: fields["retryable"]?.boolValue ?? true, retryAfter: retryAfter, rateLimited: fields["rate_limited"]?.boolValue ?? false),
            usage: usage
        )
    }

    private static func tokenUsage(_ value: JSONValue) -> TokenUsage? {
        guard case .object = value else { return nil }
        return TokenUsage(
            promptTokens: value["prompt_tokens"]?.intValue ?? 0,
            completionTokens: value["completion_tokens"]?.intValue ?? 0,
            cachedPromptTokens: value["cached_prompt_tokens"]?.intValue ?? 0
        )
    }

    /// The start of a line, for an error message.
    private static func excerpt(_ line: [UInt8]) -> String {
        let text = String(decoding: line.prefix(200), as: UTF8.self)
        return "'" + text + (line.count > 200 ? "…" : "") + "'"
    }

    /// A line that is not a valid response to the waiting request.
    struct MalformedResponse: Error {
        let code: ProcessExecutorError.Code
        let message: String
    }
}
