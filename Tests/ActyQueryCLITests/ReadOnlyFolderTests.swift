import Acty
import ActyTestSupport
import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `acty-query` on a database in a folder it cannot write: SQLite cannot create the `-shm` a WAL database needs.
@Suite(.timeLimit(.minutes(1)), .enabled(if: Unprivileged.isAvailable))
struct ReadOnlyFolderTests {
    /// A read-only folder in `folder` holding a copy of `files` (readable by anyone).
    static func readOnlyFolder(in folder: TemporaryDirectory, copying files: [String]) throws -> String {
        let directory = folder.file("read-only")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        for file in files {
            let copy = directory + "/" + URL(fileURLWithPath: file).lastPathComponent
            try FileManager.default.copyItem(atPath: file, toPath: copy)
            chmod(copy, 0o644)
        }
        chmod(folder.path, 0o755)
        chmod(directory, 0o555)
        return directory
    }

    @Test func aCheckpointedDatabaseIsReadAsImmutableWithANote() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        #expect(!FileManager.default.fileExists(atPath: database.path + "-wal"))
        let directory = try Self.readOnlyFolder(in: folder, copying: [database.path])
        defer { chmod(directory, 0o755) }

        let run = try Unprivileged.run(["summary", directory + "/acty.db", "--format", "json"], in: folder)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("note: ") && run.stderr.contains("read-only folder"), "\(run.stderr)")
        #expect(try run.json()["overview"]?["groups_total"]?.intValue == 2)
        #expect(!FileManager.default.fileExists(atPath: directory + "/acty.db-shm"))
    }

    @Test func aLogWithChangesGetsAnErrorThatSaysWhatToDo() async throws {
        let folder = TemporaryDirectory()
        let database = try await EngineDatabase.make(in: folder)
        // A database whose -wal holds a change, as a killed engine leaves it.
        let pool = try DatabasePool(path: database.path)
        try await pool.write { try $0.execute(sql: "UPDATE groups SET key = 'renamed' WHERE key = 'ok'") }
        let directory = try Self.readOnlyFolder(in: folder, copying: [database.path, database.path + "-wal"])
        try pool.close()
        defer { chmod(directory, 0o755) }

        let run = try Unprivileged.run(["groups", directory + "/acty.db"], in: folder)
        #expect(run.status == 1)
        #expect(run.stderr.contains("-shm") && run.stderr.contains("copy the database with its -wal"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
    }
}

/// Runs the tool as a user who cannot write the test's folders: root writes any folder, whatever its mode.
enum Unprivileged {
    static let setpriv = "/usr/bin/setpriv"
    static var isAvailable: Bool { getuid() != 0 || FileManager.default.isExecutableFile(atPath: setpriv) }

    static func run(_ arguments: [String], in folder: TemporaryDirectory) throws -> ToolRun {
        let tool = try QueryTool.url().path
        let (executable, all) = getuid() == 0
            ? (setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", tool] + arguments)
            : (tool, arguments)
        let out = folder.file(UUID().uuidString + ".out")
        let err = folder.file(UUID().uuidString + ".err")
        let exit = try ChildProcess(executable, all, standardOutput: out, standardError: err).waitUntilExit()
        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return ToolRun(status: exit.status, stdout: text(out), stderr: text(err))
    }
}
