@testable import ActyStore
import Foundation
import GRDB
import Testing

@Suite(.timeLimit(.minutes(2)))
struct BackgroundCheckpointerTests {
    /// A WAL database with a table of page-sized rows, and the checkpointer installed on its writer.
    static func withDatabase(
        threshold: Int32, limit: Int32, idleDelay: Duration = .seconds(60), interval: Duration = .seconds(60),
        _ body: (DatabasePool, _ path: String, BackgroundCheckpointer) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/wal.db"
            // The checkpoint of a quiet database takes the write lock: a commit then waits for it.
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            let pool = try DatabasePool(path: path, configuration: configuration)
            try await pool.write { try $0.execute(sql: "CREATE TABLE pages (id INTEGER PRIMARY KEY, body BLOB NOT NULL)") }
            let checkpointer = try BackgroundCheckpointer(
                path: path, threshold: threshold, limit: limit, idleDelay: idleDelay, interval: interval
            )
            try await pool.writeWithoutTransaction { checkpointer.install(on: $0) }
            try await body(pool, path, checkpointer)
            try await pool.writeWithoutTransaction { checkpointer.uninstall(from: $0) }
            try checkpointer.close()
            try pool.close()
        }
    }

    /// Commits one transaction that adds a page or so.
    static func writePage(_ pool: DatabasePool) throws {
        try pool.write { try $0.execute(sql: "INSERT INTO pages (body) VALUES (zeroblob(3000))") }
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
    }

    @Test func pagesReachTheDatabaseFileWithoutTheWriterCheckpointing() async throws {
        // The writer's own limit is never reached: only a background checkpoint can copy pages into the file.
        try await Self.withDatabase(threshold: 50, limit: 1_000_000) { pool, path, _ in
            // Commits start the background checkpoints; a loaded machine makes each copy less, so write until the
            // file has grown rather than a fixed number of pages.
            let before = Self.size(path)
            let deadline = ContinuousClock.now + .seconds(30)
            while Self.size(path) <= before + 100 * 4096 {
                try #require(ContinuousClock.now < deadline, "the database file did not grow")
                try Self.writePage(pool)
            }
        }
    }

    @Test func backgroundCheckpointsStartOncePerStepOfGrowthNotAtEveryCommit() async throws {
        try await Self.withDatabase(threshold: 40, limit: 1_000_000) { pool, path, checkpointer in
            // A snapshot held open keeps the log from starting over (a checkpoint cannot copy past it), so the log's
            // size counts every frame written. Each commit adds a page and a b-tree page or two.
            let snapshot = try pool.makeSnapshot()
            for _ in 0..<300 { try Self.writePage(pool) }
            _ = try snapshot.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM pages") }
            let frames = Int(Self.size(path + "-wal") / (4096 + 24))
            let started = checkpointer.checkpointsStarted
            #expect(started >= 1)
            #expect(started <= (frames - 40) / Int(checkpointer.step) + 1, "\(started) checkpoints for a log of \(frames) frames")
        }
    }

    /// The WAL header's checkpoint sequence number: SQLite adds one each time the log starts over.
    /// <https://www.sqlite.org/fileformat.html#the_write_ahead_log>
    static func logRestarts(_ path: String) -> UInt32 {
        guard let header = FileManager.default.contents(atPath: path + "-wal")?.prefix(16), header.count == 16 else { return 0 }
        return header.suffix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    @Test func theLogStartsOverAgainAndAgainUnderSteadyWrites() async throws {
        // Without checkpoints the log never starts over (SQLite's own are off); with them it restarts around
        // `limit` frames, later when a background checkpoint is slow to finish on a loaded machine, so the test
        // counts restarts rather than bounding the log's size.
        try await Self.withDatabase(threshold: 50, limit: 200) { pool, path, _ in
            try Self.writePage(pool)
            let first = Self.logRestarts(path)
            var commits = 1
            let deadline = ContinuousClock.now + .seconds(40)
            while Self.logRestarts(path) < first + 3, ContinuousClock.now < deadline {
                try Self.writePage(pool)
                commits += 1
            }
            #expect(Self.logRestarts(path) >= first + 3, "the log started over \(Self.logRestarts(path) - first) times in \(commits) commits")
            #expect(try await pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM pages") } == commits)
        }
    }

    @Test func pagesReachTheDatabaseFileOnATimerWhileCommitsKeepComing() async throws {
        // Below the threshold and never quiet for the idle delay: only the timer copies pages into the file.
        try await Self.withDatabase(threshold: 1_000_000, limit: 1_000_000, interval: .milliseconds(100)) { pool, path, _ in
            let before = Self.size(path)
            let deadline = ContinuousClock.now + .seconds(20)
            while Self.size(path) < before + 20 * 4096 {
                try #require(ContinuousClock.now < deadline, "the database file did not grow")
                try Self.writePage(pool)
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    @Test func theLogIsCopiedAndTruncatedOnceTheWriterGoesQuiet() async throws {
        try await Self.withDatabase(threshold: 1_000_000, limit: 1_000_000, idleDelay: .milliseconds(100)) { pool, path, _ in
            for _ in 0..<100 { try Self.writePage(pool) }
            try await waitUntil(timeout: .seconds(20), "the log to be emptied") { Self.size(path + "-wal") == 0 }
            #expect(Self.size(path) > 100 * 3000)
            // Commits after the quiet time are folded in at the next one.
            for _ in 0..<10 { try Self.writePage(pool) }
            try await waitUntil(timeout: .seconds(20), "the log to be emptied again") { Self.size(path + "-wal") == 0 }
        }
    }
}
