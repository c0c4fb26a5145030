import ActyStore
import Logging

extension Worker {
    /// Runs the job's result handler on the output its executor returned and turns the decision into the attempt's
    /// outcome: a success (the output, or the handler's replacement), a final failure, or a resubmit with a new
    /// payload. Handler decisions are never retried by the retry policy: a resubmit is the handler's own retry.
    func handle(_ output: JSONValue, of job: Job, _ claimed: ClaimedJob, handler name: String) async -> Dispatcher.Finished {
        guard let handler = resultHandlers.handler(named: name) else {
            // Claims keep to jobs whose handler this engine has, and it never forgets one: this is a bug, not input.
            return failed(claimed, JobError(type: "UnknownResultHandler", message: "no result handler named '\(name)' is registered"), retryable: false)
        }
        let action: ResultAction
        switch await decide(handler, output: output, of: job, claimed) {
        case .decided(let decided):
            action = decided
        case .interrupted:
            // The engine shut down past its grace period while the handler ran: not the job's failure.
            return interrupted(claimed)
        case .threw(let error, let calls):
            let jobError = JobError(thrown: error)
            let event = Self.event(
                .jobResultHandlerFailed, handler: name,
                ["error": jobError.jsonValue, "policy": .string(resultHandlerErrorPolicy.rawValue), "calls": .number(Double(calls))]
            )
            switch resultHandlerErrorPolicy {
            case .fail: return failed(claimed, jobError, retryable: false, handlerEvent: event)
            case .passThrough: return succeeded(claimed, output, handlerEvent: event)
            }
        }
        switch action {
        case .accept:
            return succeeded(claimed, output)
        case .replace(let replacement):
            return succeeded(claimed, replacement, handlerEvent: Self.event(.jobResultHandled, handler: name, ["action": "replace"]))
        case .fail(let error):
            let error = JobError(thrown: error)
            return failed(claimed, error, retryable: false, handlerEvent: Self.event(.jobResultHandled, handler: name, ["action": "fail"]))
        case .resubmit(let payload, let reason, let delay, let context):
            let reason = SecretRedactor.redact(reason)
            guard claimed.resubmits < claimed.maxResubmits else {
                let error = JobError(
                    type: "ResultHandlerFailed",
                    message: "result handler '\(name)' asked for resubmit \(claimed.resubmits + 1) (\(reason)), but maxResultHandlerAttempts "
                        + "allows \(claimed.maxResubmits)"
                )
                return failed(claimed, error, retryable: false)
            }
            let stored: (payload: String, context: String?)
            switch (StoredJSON.text(payload), context.stored) {
            case (.success(let payload), .success(let context)):
                stored = (payload, context)
            case (.failure(let refusal), _):
                // The job keeps its current payload: only the handler's new one is refused.
                let error = JobError(type: "ResultHandlerFailed", message: "result handler '\(name)' resubmitted a payload that \(refusal.message)")
                return failed(claimed, error, retryable: false)
            case (_, .failure(let refusal)):
                let error = JobError(type: "ResultHandlerFailed", message: "result handler '\(name)' resubmitted a group context that \(refusal.message)")
                return failed(claimed, error, retryable: false)
            }
            let resubmit = Completion.Resubmit(
                payload: stored.payload, reason: reason, handler: name, delay: max(0, delay.seconds), context: stored.context,
                contextPolicy: context.name
            )
            return Dispatcher.Finished(completion: Completion(job: claimed, outcome: .resubmitted(resubmit), finishedAt: Self.now), output: nil)
        }
    }

    private enum Decision {
        case decided(ResultAction)
        case threw(any Error, calls: Int)
        case interrupted
    }

    /// Calls the handler; when it throws, calls it again while ``ResultHandlerRetry`` allows (after the policy's
    /// backoff, logging `result_handler_retry`), then lets `whenExhausted` decide, or reports the error.
    private func decide(_ handler: any ResultHandler, output: JSONValue, of job: Job, _ claimed: ClaimedJob) async -> Decision {
        let policy = resultHandlerRetry.policy(forJob: claimed.retryPolicy)
        var calls = 0
        while true {
            calls += 1
            do {
                return .decided(try await handler.handle(output: output, of: job))
            } catch {
                if Task.isCancelled { return .interrupted }
                let retryable = !(error is NonRetryableError) && isRetryable(error)
                guard retryable, calls < policy.maxAttempts else {
                    if let whenExhausted = resultHandlerRetry.whenExhausted { return .decided(whenExhausted(error, calls)) }
                    return .threw(error, calls: calls)
                }
                logger.warning(
                    "result_handler_retry",
                    metadata: [
                        "handler": "\(handler.name)", "acty.job": "\(job.id.rawValue)", "acty.group": "\(job.groupKey)", "acty.attempt": "\(job.attempt)",
                        "call": "\(calls)", "error": "\(JobError(thrown: error).message)",
                    ]
                )
                do {
                    try await Task.sleep(for: policy.delay(afterAttempt: calls, random: Double.random(in: 0..<1)))
                } catch {
                    return .interrupted
                }
            }
        }
    }

    /// A handler event's data: the handler's name and `fields`.
    private static func event(_ type: EventType, handler: String, _ fields: [String: JSONValue]) -> Completion.HandlerEvent {
        var data = fields
        data["handler"] = .string(handler)
        return Completion.HandlerEvent(type: type, data: JSONValue.object(data).jsonString)
    }
}

extension ResubmitContext {
    /// The context as the job row stores it (`jobs.resubmit_context`): `nil` for the group's own, else what the
    /// claim changes: `"cache": false` drops the handle, `"group_context"` replaces the group's (null drops it).
    var stored: Result<String?, StoredJSON.Refusal> {
        switch self {
        case .keep: return .success(nil)
        case .dropCache: return .success(#"{"cache":false}"#)
        case .dropGroupContext: return .success(#"{"group_context":null}"#)
        case .dropAll: return .success(#"{"cache":false,"group_context":null}"#)
        case .replaceGroupContext(let context):
            return StoredJSON.text(context).map { #"{"group_context":\#($0)}"# }
        }
    }

    /// The policy's name in events, as Python acty's `context_policy`.
    var name: String {
        switch self {
        case .keep: "inherit"
        case .dropCache: "drop_cache"
        case .dropGroupContext: "drop_group"
        case .dropAll: "drop_all"
        case .replaceGroupContext: "override"
        }
    }
}
