/// An executor that returns each job's payload as its output: for learning the API and for tests.
public struct EchoExecutor: Executor {
    /// The executor's name.
    public let name: String

    /// Creates an echo executor.
    public init(name: String = "echo") {
        self.name = name
    }

    /// Returns the job's payload.
    public func execute(_ job: Job) async throws -> JSONValue {
        job.payload
    }
}
