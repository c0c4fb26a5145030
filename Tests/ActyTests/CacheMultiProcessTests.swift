import ActyTestSupport
import Foundation
import Testing

/// Cache entries are single-flight across real processes: three engine processes start together on one file, each
/// submitting groups with one cache key; the provider's `create` runs once among them, and every job of every
/// process sees that one reference.
@Suite(.timeLimit(.minutes(2)))
struct CacheMultiProcessTests {
    @Test func threeProcessesCreateTheEntryOnce() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        let log = dir.file("cache.log")
        let children = try (0..<3).map { index in
            try TestWorkerProcess(
                ["cache-work", "--database", database, "--log", log, "--groups", "6", "--prefix", "p\(index)", "--create-ms", "300"],
                in: dir, name: "cache-\(index)"
            )
        }
        for child in children {
            let exit = try await child.waitForExit(timeout: .seconds(90))
            #expect(exit == .status(0), "\(child.stderr)")
        }
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        let creates = lines.filter { $0.hasPrefix("create ") }
        let refs = lines.filter { $0.hasPrefix("ref ") }.map { $0.split(separator: " ")[2] }
        #expect(creates.count == 1, "\(creates)")
        #expect(refs.count == 3 * 6 * 3)
        #expect(Set(refs).count == 1, "\(Set(refs))")
        #expect(refs.first.map(String.init) == creates.first.map { "session-" + $0.split(separator: " ")[1] })
    }
}
