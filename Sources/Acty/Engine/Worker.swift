import ActyStore
import Foundation

/// One worker of a pool: runs the jobs the dispatcher hands it, one at a time, until told to exit.
struct Worker {
    let pool: JobRole
    let dispatcher: Dispatcher
    let executors: [String: any Executor]

    func run() async {
        var done: Dispatcher.Finished?
        while let job = await dispatcher.nextJob(pool: pool, after: done) {
            done = await execute(job)
        }
    }

    /// Runs one attempt and describes its outcome. Never throws: every failure is an outcome to record.
    private func execute(_ claimed: ClaimedJob) async -> Dispatcher.Finished {
        func failed(_ error: JobError) -> Dispatcher.Finished {
            Dispatcher.Finished(completion: Completion(job: claimed, outcome: .failed(error), finishedAt: Date().timeIntervalSince1970), output: nil)
        }
        guard let executor = executors[claimed.executor] else {
            return failed(JobError(type: "UnknownExecutor", message: "no executor named '\(claimed.executor)' is registered"))
        }
        let payload: JSONValue
        let groupContext: JSONValue?
        do {
            payload = try JSONValue(jsonString: claimed.payload)
            groupContext = try claimed.groupContext.map { try JSONValue(jsonString: $0) }
        } catch {
            return failed(JobError(type: "InvalidPayload", message: "the stored payload is not valid JSON: \(error)"))
        }
        let job = Job(
            id: claimed.id, groupKey: claimed.groupKey, role: claimed.role, followerIndex: claimed.followerIndex,
            lane: claimed.lane, attempt: claimed.attempt, payload: payload, groupContext: groupContext,
            cache: claimed.cacheKey.map { CacheHandle(key: $0, providerRef: nil) }
        )
        do {
            let output = try await executor.execute(job)
            if let problem = output.nonFiniteNumberPath {
                return failed(JobError(type: "InvalidOutput", message: "the output has a number that JSON cannot hold (NaN or infinity) at \(problem)"))
            }
            return Dispatcher.Finished(
                completion: Completion(job: claimed, outcome: .succeeded(output: output.jsonString), finishedAt: Date().timeIntervalSince1970),
                output: output
            )
        } catch {
            return failed(JobError(thrown: error))
        }
    }
}

extension JobError {
    /// Records a thrown error: its type name and description, with secrets redacted.
    init(thrown error: any Error) {
        if let error = error as? JobError {
            self.init(type: error.type, message: SecretRedactor.redact(error.message))
        } else if error is CancellationError {
            self.init(type: "cancelled", message: "the attempt was cancelled")
        } else {
            self.init(type: String(describing: Swift.type(of: error)), message: SecretRedactor.redact(String(describing: error)))
        }
    }
}
