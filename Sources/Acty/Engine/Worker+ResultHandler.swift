import ActyStore

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
        do {
            action = try await handler.handle(output: output, of: job)
        } catch {
            // The engine shut down past its grace period while the handler ran: not the job's failure.
            if Task.isCancelled { return interrupted(claimed) }
            let jobError = JobError(thrown: error)
            let event = Self.event(
                .jobResultHandlerFailed, handler: name,
                ["error": jobError.jsonValue, "policy": .string(resultHandlerErrorPolicy.rawValue)]
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
        case .resubmit(let payload, let reason):
            let reason = SecretRedactor.redact(reason)
            guard claimed.resubmits < claimed.maxResubmits else {
                let error = JobError(
                    type: "ResultHandlerFailed",
                    message: "result handler '\(name)' asked for resubmit \(claimed.resubmits + 1) (\(reason)), but maxResultHandlerAttempts "
                        + "allows \(claimed.maxResubmits)"
                )
                return failed(claimed, error, retryable: false)
            }
            switch StoredJSON.text(payload) {
            case .success(let text):
                let resubmit = Completion.Resubmit(payload: text, reason: reason, handler: name)
                return Dispatcher.Finished(completion: Completion(job: claimed, outcome: .resubmitted(resubmit), finishedAt: Self.now), output: nil)
            case .failure(let refusal):
                // The job keeps its current payload: only the handler's new one is refused.
                let error = JobError(type: "ResultHandlerFailed", message: "result handler '\(name)' resubmitted a payload that \(refusal.message)")
                return failed(claimed, error, retryable: false)
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
