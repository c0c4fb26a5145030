import ActyCore

/// The result handlers an engine has, by name: those of its configuration, and those groups' options brought
/// since. Every claim asks for the names, so a handler added by a submission makes its jobs claimable at once.
final class ResultHandlerRegistry: Sendable {
    private struct State {
        var byName: [String: any ResultHandler] = [:]
        /// The names, sorted: what claims and the `workers` row list.
        var names: [String] = []
    }

    private let state = Locked(State())

    /// Registers the configured handlers.
    ///
    /// - Throws: ``ActyError/Code/invalidArgument`` for a bad name, or two handlers of different types with one name.
    init(_ handlers: [any ResultHandler]) throws {
        for handler in handlers { _ = try add(handler) }
    }

    /// The handler with this name, if the engine has one.
    func handler(named name: String) -> (any ResultHandler)? {
        state.withLock { $0.byName[name] }
    }

    /// The names of every handler, sorted.
    var names: [String] { state.withLock { $0.names } }

    /// Adds a handler unless one of its name is registered; returns whether it was new. The handler registered first
    /// under a name stays: handlers are found by name, so one name means one behaviour.
    ///
    /// - Throws: ``ActyError/Code/invalidArgument`` for a bad name, or when a handler of another type has the name.
    func add(_ handler: any ResultHandler) throws -> Bool {
        let name = handler.name
        guard !name.isEmpty, name.utf8.count <= 200, !name.contains(where: \.isNewline) else {
            throw ActyError(.invalidArgument, "result handler name '\(name)' is not valid: use 1 to 200 bytes without line breaks")
        }
        return try state.withLock { state in
            if let existing = state.byName[name] {
                guard ObjectIdentifier(type(of: existing)) == ObjectIdentifier(type(of: handler)) else {
                    throw ActyError(
                        .invalidArgument,
                        "two different result handlers are named '\(name)' (\(type(of: existing)) and \(type(of: handler))): "
                            + "handlers are found by name, so give each its own"
                    )
                }
                return false
            }
            state.byName[name] = handler
            state.names = state.byName.keys.sorted()
            return true
        }
    }
}
