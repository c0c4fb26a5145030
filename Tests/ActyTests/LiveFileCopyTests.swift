import ActyTestSupport
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// The database file of an engine process, copied alone (without `-wal` and `-shm`) while it runs or after it was
/// killed, is an Acty database holding the work committed up to the last checkpoint.
@Suite(.timeLimit(.minutes(2)))
struct LiveFileCopyTests {
    /// Copies only `path` and counts its succeeded jobs; `nil` when the copy is not readable (taken while a
    /// checkpoint was writing the file, say).
    static func succeededJobsInFileAlone(_ path: String, in dir: TemporaryDirectory) -> (version: Int, succeeded: Int)? {
        let copy = dir.file("copy-\(UUID().uuidString).db")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        guard (try? FileManager.default.copyItem(atPath: path, toPath: copy)) != nil,
            let queue = try? DatabaseQueue(path: copy)
        else { return nil }
        defer { try? queue.close() }
        return try? queue.read { db in
            (try SchemaMigrator.appliedVersion(db), try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE state = 'succeeded'") ?? 0)
        }
    }

    @Test func theFileOfARunningOrKilledEngineHoldsItsSchemaAndCheckpointedWork() async throws {
        let dir = TemporaryDirectory()
        let database = dir.file()
        _ = try await TestWorkerProcess.run(["submit", "--database", database, "--groups", "100", "--followers", "4"], in: dir, name: "submit")
        let worker = try TestWorkerProcess(
            [
                "work", "--database", database, "--log", dir.file("executions.log"), "--primer-workers", "1", "--follower-workers", "1",
                "--min-sleep-ms", "20", "--max-sleep-ms", "40",
            ],
            in: dir, name: "work"
        )
        defer { worker.kill() }
        // While the engine runs, its timer checkpoints bring finished jobs into the file.
        var seen = 0
        try await require("the file alone to show succeeded jobs while the engine runs") {
            seen = Self.succeededJobsInFileAlone(database, in: dir)?.succeeded ?? 0
            return seen >= 10
        }
        #expect(worker.ended == nil, "the engine ended before the test saw its work in the file: \(worker.stderr)")
        // Slow work keeps the log below the size where a checkpoint would start on its own.
        let log = (try? FileManager.default.attributesOfItem(atPath: database + "-wal")[.size] as? Int) ?? 0
        #expect(log < Store.checkpointFrames.background * 4096, "the log had \(log) bytes")
        worker.kill()
        #expect(try await worker.waitForExit(timeout: .seconds(10)) == .signal(SIGKILL))

        let afterKill = try #require(Self.succeededJobsInFileAlone(database, in: dir))
        #expect(afterKill.version == Store.schemaVersion)
        #expect(afterKill.succeeded >= seen)
    }
}
