/// An executor whose work is a closure.
///
/// ```swift
/// let upper = ClosureExecutor(name: "upper") { job in
///     .string(job.payload["text"]?.stringValue?.uppercased() ?? "")
/// }
/// ```
public struct ClosureExecutor: Executor {
    /// The executor's name.
    public let name: String
    private let body: @Sendable (Job) async throws -> JSONValue

    /// Creates an executor that runs `body` for each attempt.
    public init(name: String, _ body: @escaping @Sendable (Job) async throws -> JSONValue) {
        self.name = name
        self.body = body
    }

    /// Runs the closure.
    public func execute(_ job: Job) async throws -> JSONValue {
        try await body(job)
    }
}
