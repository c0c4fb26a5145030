import ActyStore

extension ActyEngine {
    /// The name of the result handler a group uses: the one of its options, which this engine keeps from now on
    /// (and lists in its `workers` row, when new), or the engine's; `nil` for none.
    ///
    /// - Throws: ``ActyError/Code/invalidArgument`` for a bad name, or when a handler of another type has the name.
    func resultHandlerName(_ options: GroupOptions) async throws -> String? {
        guard let handler = options.resultHandler else { return configuration.resultHandler?.name }
        if try resultHandlers.add(handler) {
            try await store.updateResultHandlers(resultHandlers.names, worker: workerID)
        }
        return handler.name
    }
}
