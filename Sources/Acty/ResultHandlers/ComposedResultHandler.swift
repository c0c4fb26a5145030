/// Several result handlers as one, as Python acty's `compose_handlers`: each runs in order until one decides
/// something other than ``ResultAction/accept``, and that decision stands; when all accept, the output is accepted.
///
/// ```swift
/// let handler = ComposedResultHandler(name: "checked-json", [JSONRepairHandler(requiredKeys: ["verdict"]), RequireVerdict()])
/// ```
///
/// A handler after one that replaced the output does not run: compose handlers that check before those that change.
public struct ComposedResultHandler: ResultHandler {
    /// The name groups store to find the composition.
    public let name: String
    /// The handlers, in the order they run.
    public let handlers: [any ResultHandler]

    /// Composes `handlers` under `name`.
    public init(name: String, _ handlers: [any ResultHandler]) {
        self.name = name
        self.handlers = handlers
    }

    public func handle(output: JSONValue, of job: Job) async throws -> ResultAction {
        for handler in handlers {
            let action = try await handler.handle(output: output, of: job)
            if action != .accept { return action }
        }
        return .accept
    }
}
