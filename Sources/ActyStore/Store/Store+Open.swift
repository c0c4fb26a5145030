package import ActyCore
import Foundation

extension Store {
    /// Opens (creating if needed) and migrates a database like ``init(_:durability:busyTimeout:eventObserver:)``,
    /// waiting on a dispatch thread: opening blocks on the file's locks (up to `busyTimeout` while another process
    /// recovers or checkpoints it) and on migrating, which would hold one of the concurrency pool's few threads.
    package static func open(
        _ location: DatabaseLocation,
        durability: Durability = .process,
        busyTimeout: Duration = .seconds(10),
        eventObserver: (@Sendable ([EventRecord]) -> Void)? = nil
    ) async throws -> Store {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Store(location, durability: durability, busyTimeout: busyTimeout, eventObserver: eventObserver) })
            }
        }
    }
}
