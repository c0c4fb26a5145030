import Acty
import ActyStore
import ActyTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

/// `acty-query backup`: a consistent, self-contained copy of a database, also while an engine writes to it.
@Suite(.timeLimit(.minutes(1)))
struct BackupCommandTests {
    static let followers = 3

    /// Jobs per group in `path`, read from the file alone.
    static func jobsPerGroup(_ path: String) throws -> [String: Int] {
        let queue = try DatabaseQueue(path: path, configuration: { var c = Configuration(); c.readonly = true; return c }())
        defer { try? queue.close() }
        let rows = try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT groups.key, COUNT(jobs.id) FROM groups LEFT JOIN jobs ON jobs.group_id = groups.id GROUP BY groups.id")
        }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0[0] as String, $0[1] as Int) })
    }

    @Test func copiesALiveDatabaseWithEveryGroupWhole() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        let engine = try await ActyEngine(database: .file(path), executors: [failingOnRequest()])
        let submitted = Atomic<Int>(0)
        let writer = Task {
            var index = 0
            while !Task.isCancelled {
                let followers = (0..<Self.followers).map { JSONValue.object(["n": .number(Double($0))]) }
                _ = try await engine.submitGroup("g-\(index)", primer: ["n": .number(Double(index))], followers: followers)
                index += 1
                submitted.store(index, ordering: .relaxed)
                // Keeps writing during the copies without flooding the machine the other suites share.
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        var copies: [String] = []
        do {
            // Copies taken while groups are being submitted and run.
            for copy in 0..<3 {
                let target = folder.file("copy-\(copy).db")
                // A few more groups before each copy: in the whole suite, on two cores, a submission can take 0.5 s.
                try await waitFor(timeout: .seconds(40)) { submitted.load(ordering: .relaxed) >= 5 * (copy + 1) }
                let run = try await QueryTool.run(["backup", path, target], timeout: .seconds(60))
                #expect(run.status == 0, "\(run.stderr)")
                #expect(run.stdout.contains("copied"))
                copies.append(target)
            }
        } catch {
            writer.cancel()
            try? await engine.shutdown()
            throw error
        }
        writer.cancel()
        _ = await writer.result
        try await engine.shutdown()

        for copy in copies {
            // One self-contained file: nothing beside it, and it opens with acty-query.
            #expect(!FileManager.default.fileExists(atPath: copy + "-wal"))
            let groups = try Self.jobsPerGroup(copy)
            #expect(groups.count >= 5)
            #expect(groups.values.allSatisfy { $0 == 1 + Self.followers }, "\(groups.filter { $0.value != 1 + Self.followers })")
            let summary = try await QueryTool.run(["summary", copy, "--format", "json"])
            #expect(summary.status == 0, "\(summary.stderr)")
            #expect(try summary.json()["overview"]?["groups_total"]?.intValue == groups.count)
        }
    }

    @Test func refusesToReplaceAFileUnlessForced() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let target = folder.file("copy.db")
        try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: target))

        let refused = try await QueryTool.run(["backup", database.path, target])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("already exists") && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(fileBytes(target) == Data("keep me\n".utf8))

        let forced = try await QueryTool.run(["backup", database.path, target, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try Self.jobsPerGroup(target) == ["ok": 3, "doomed": 2])
    }

    @Test func badSourcesAndDestinationsGetOneLineAndLeaveNoFile() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        let notes = try notADatabase(in: folder)
        let plain = folder.file("plain.db")
        let queue = try DatabaseQueue(path: plain)
        try await queue.write { try $0.execute(sql: "CREATE TABLE t (x)") }
        try queue.close()
        let before = [database.path, notes, plain].map(fileBytes)

        let cases: [([String], String)] = [
            (["backup", folder.file("missing.db"), folder.file("a.db")], "no database file"),
            (["backup", notes, folder.file("b.db")], "not a SQLite database"),
            (["backup", plain, folder.file("c.db")], "not an Acty database"),
            (["backup", database.path, folder.file("no-such-folder/d.db")], "check that its folder exists and is writable"),
            (["backup", database.path, folder.path], "is a folder"),
            (["backup", database.path, database.path, "--force"], "is the database being copied"),
        ]
        for (arguments, message) in cases {
            let run = try await QueryTool.run(arguments)
            #expect(run.status == 1, "\(arguments)")
            #expect(run.stderr.hasPrefix("error: ") && run.stderr.contains(message), "\(arguments): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "\(arguments): \(run.stderr)")
        }
        #expect([database.path, notes, plain].map(fileBytes) == before)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix("acty.db") }
        #expect(Set(left) == ["notes.txt", "plain.db"])
    }
}
