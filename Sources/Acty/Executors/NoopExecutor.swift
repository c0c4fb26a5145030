/// An executor that does nothing and succeeds with `null`: for measuring the engine's own overhead.
public struct NoopExecutor: Executor {
    /// The executor's name.
    public let name: String

    /// Creates a no-op executor.
    public init(name: String = "noop") {
        self.name = name
    }

    /// Returns `null` at once.
    public func execute(_ job: Job) async throws -> JSONValue {
        .null
    }
}
