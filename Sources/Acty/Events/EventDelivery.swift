import Logging

/// Hands committed events to the sinks, in commit order, on their own task.
enum EventDelivery {
    static func run(_ events: AsyncStream<[EventRecord]>, to sinks: [any EventSink], logger: Logger) async {
        for await batch in events {
            for sink in sinks {
                do {
                    try await sink.consume(batch)
                } catch {
                    logger.error("event sink failed", metadata: ["error": "\(error)"])
                }
            }
        }
        for sink in sinks {
            do {
                try await sink.close()
            } catch {
                logger.error("closing an event sink failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
