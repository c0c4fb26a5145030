import ActyStore
import Foundation
import Logging
import Tracing

extension Worker {
    /// Runs an attempt in a span of its own, `acty.job`, a child of the span that submitted the job's group (its
    /// context is stored with the group, so this holds after a restart and in another process). The executor runs
    /// with the span's context as `ServiceContext.current`, so its own instrumented calls join the trace.
    func traced(_ claimed: ClaimedJob, tracer: any Tracer, _ attempt: () async -> Dispatcher.Finished) async -> Dispatcher.Finished {
        var parent = ServiceContext.topLevel
        if let stored = claimed.traceContext, let headers = TraceCarrier.headers(stored) {
            tracer.extract(headers, into: &parent, using: TraceCarrier.Extract())
        }
        let span = tracer.startSpan("acty.job", context: parent, ofKind: .consumer)
        // A span the backend's sampler dropped gets no attributes. One update each time: a span's attributes are
        // behind its lock.
        let isRecording = span.isRecording
        if isRecording {
            span.updateAttributes { attributes in
                attributes["acty.group"] = claimed.groupKey
                attributes["acty.job"] = Int(claimed.id.rawValue)
                attributes["acty.lane"] = claimed.lane
                attributes["acty.attempt"] = claimed.attempt
                attributes["acty.role"] = claimed.role.rawValue
                attributes["acty.executor"] = claimed.executor
                attributes["acty.pool"] = claimed.pool.rawValue
            }
        }
        let finished = await ServiceContext.withValue(span.context) { await attempt() }
        let failure: Completion.Failure? =
            if case .failed(let failure) = finished.completion.outcome, !finished.released { failure } else { nil }
        if isRecording {
            span.updateAttributes { attributes in
                attributes["acty.outcome"] = Self.outcomeName(finished)
                if let failure { attributes["acty.retry_scheduled"] = failure.retryAfter != nil }
            }
        }
        if let failure, isRecording {
            span.recordError(failure.error)
            span.setStatus(SpanStatus(code: .error, message: failure.error.type))
        }
        span.end()
        return finished
    }

    /// How an attempt ended, as span attributes and log metadata say it.
    static func outcomeName(_ finished: Dispatcher.Finished) -> String {
        if finished.released { return "interrupted" }
        switch finished.completion.outcome {
        case .succeeded: return "succeeded"
        case .resubmitted: return "resubmitted"
        case .failed(let failure): return failure.timedOut ? "timed_out" : "failed"
        }
    }

    /// The log metadata of an attempt: the keys match the span's attributes. The error's type only, never its
    /// message or the payload.
    static func metadata(of finished: Dispatcher.Finished) -> Logger.Metadata {
        let job = finished.completion.job
        var metadata: Logger.Metadata = [
            "acty.group": "\(job.groupKey)", "acty.job": "\(job.id.rawValue)", "acty.lane": "\(job.lane)",
            "acty.attempt": "\(job.attempt)", "acty.outcome": "\(outcomeName(finished))",
        ]
        if case .failed(let failure) = finished.completion.outcome { metadata["error.type"] = "\(failure.error.type)" }
        return metadata
    }
}

/// The submitter's tracing context as stored with a group: the headers the tracer injected (W3C `traceparent` and
/// `tracestate` for OpenTelemetry), as a JSON object.
enum TraceCarrier {
    /// The current context's headers as JSON text, or `nil` without a current context or when the tracer injects
    /// nothing.
    static func current(_ tracer: any Tracer) -> String? {
        guard let context = ServiceContext.current else { return nil }
        var headers: [String: String] = [:]
        tracer.inject(context, into: &headers, using: Inject())
        guard !headers.isEmpty else { return nil }
        return JSONValue.object(headers.mapValues(JSONValue.string)).jsonString
    }

    /// The headers stored as JSON text; `nil` when the text is not a JSON object of strings.
    static func headers(_ text: String) -> [String: String]? {
        guard case .object(let object)? = try? JSONValue(jsonString: text) else { return nil }
        return object.compactMapValues { if case .string(let value) = $0 { value } else { nil } }
    }

    struct Inject: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    struct Extract: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }
}
