@testable import Acty
@testable import ActyStore
import ActyTestSupport
import Foundation
import GRDB
import Testing

/// A small tmpfs mounted for one test: a real full disk, or a real read-only file system.
///
/// Mounting needs root, which CI has; elsewhere the tests that need it are skipped.
final class ScratchMount: Sendable {
    let path: String

    init?(sizeKB: Int) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("acty-mount-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeKB)k", "tmpfs", path]) else {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
    }

    /// Remounts with new options, such as `size=65536k` or `ro`. A remount to read-only fails while a file is
    /// still open for writing (a connection closing on another thread), so it is tried for up to 5 s.
    func remount(_ options: String) -> Bool {
        for _ in 0..<100 {
            if Self.run("/bin/mount", ["-o", "remount,\(options)", path]) { return true }
            usleep(50_000)
        }
        return false
    }

    deinit {
        _ = Self.run("/bin/umount", ["-l", path])
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Fills what is left of the mount with a file; returns its path (remove it to give the space back).
    func fill() throws -> String {
        let filler = path + "/filler-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: filler, contents: nil) else { throw CocoaError(.fileWriteOutOfSpace) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        defer { try? handle.close() }
        for chunk in [65_536, 4_096, 512, 1] {
            let bytes = Data(repeating: 0x78, count: chunk)
            while (try? handle.write(contentsOf: bytes)) != nil {}
        }
        return filler
    }

    static var isAvailable: Bool {
        guard getuid() == 0, let probe = ScratchMount(sizeKB: 64) else { return false }
        _ = probe
        return true
    }

    private static func run(_ tool: String, _ arguments: [String]) -> Bool {
        (try? ChildProcess(tool, arguments).waitUntilExit()) == .status(0)
    }
}

@Suite(.enabled(if: ScratchMount.isAvailable, "needs root to mount a small tmpfs"))
struct StorageFaultTests {
    @Test func fullDiskFailsTheWriteClearlyAndLosesNoCommittedWork() async throws {
        let mount = try #require(ScratchMount(sizeKB: 1024))
        let path = mount.path + "/acty.db"
        let gate = Gate()
        let engine = try await ActyEngine(
            database: .file(path),
            configuration: EngineConfiguration(primerWorkers: 1, followerWorkers: 1, pollInterval: .milliseconds(20)),
            executors: [gated(by: gate)]
        )
        let filler = String(repeating: "x", count: 8_000)
        var accepted: [GroupSubmission] = []
        var failure: ActyError?
        for index in 0..<2_000 {
            do {
                accepted.append(try await engine.submitGroup("g\(index)", primer: ["fill": .string(filler)], followers: [["n": 1]]))
            } catch let error as ActyError {
                failure = error
                break
            }
        }
        let error = try #require(failure, "the disk never filled up")
        #expect(error.code == .databaseFull)
        #expect(error.message.contains("full"))
        #expect(!accepted.isEmpty)

        // Give the disk room again: every group acknowledged before the failure still runs to the end.
        #expect(mount.remount("size=262144k"))
        gate.open()
        for submission in accepted {
            for job in submission.jobs {
                #expect(try await job.result().status == .succeeded)
            }
        }
        let more = try await engine.submitGroup("after-full", primer: ["n": 1])
        #expect(try await more.primer!.result().status == .succeeded)
        try await engine.shutdown()
    }

    @Test func readOnlyDatabaseIsRefusedWithoutChangingIt() async throws {
        let mount = try #require(ScratchMount(sizeKB: 8192))
        let path = mount.path + "/acty.db"
        let engine = try await ActyEngine(database: .file(path), executors: [EchoExecutor()])
        _ = try await engine.submitGroup("kept", primer: ["n": 1])
        try await engine.shutdown()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        #expect(mount.remount("ro"))
        do {
            _ = try await ActyEngine(database: .file(path), executors: [EchoExecutor()])
            Issue.record("opening a database on a read-only file system succeeded")
        } catch let error as ActyError {
            #expect(error.code == .databaseReadOnly || error.code == .databaseUnavailable)
            #expect(error.message.contains(path))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    /// An engine on the mount with one gated primer running per group; each primer's output (its payload) has
    /// `padding` more bytes.
    static func engineWithRunningPrimers(
        _ path: String, groups: Int, gate: Gate, padding: Int = 0
    ) async throws -> (ActyEngine, [GroupSubmission]) {
        // A short lease: the next engine of these tests runs in this same process, so it finds the jobs by their
        // expired leases.
        let configuration = EngineConfiguration(
            primerWorkers: groups, followerWorkers: 1, leaseDuration: .seconds(1),
            gracefulShutdownTimeout: .milliseconds(500), pollInterval: .milliseconds(20), busyTimeout: .milliseconds(500)
        )
        let engine = try await ActyEngine(database: .file(path), configuration: configuration, executors: [gated(by: gate)])
        return try await shuttingDownOnError(engine) {
            let submissions = try await (0..<groups).asyncMap {
                try await engine.submitGroup(
                    "g\($0)", primer: ["n": .number(Double($0)), "padding": .string(String(repeating: "x", count: padding))],
                    followers: [["follower": .number(Double($0))]]
                )
            }
            try await require("every primer to run") {
                try await submissions.asyncMap { try await engine.store.job($0.primer!.id)?.state }.allSatisfy { $0 == .running }
            }
            return (engine, submissions)
        }
    }

    @Test func jobsFinishingOnAFullDiskReportItAndAreRecordedWhenSpaceReturns() async throws {
        let mount = try #require(ScratchMount(sizeKB: 8192))
        let gate = Gate()
        // Writes larger than the log: once a checkpoint lets the log start over, small writes fit in the space the
        // log file already has, and a full disk would not fail them. Recording a primer rewrites its 300 KB row
        // with a 300 KB output: more than the log file holds.
        let padding = String(repeating: "x", count: 300_000)
        let (engine, submissions) = try await Self.engineWithRunningPrimers(
            mount.path + "/acty.db", groups: 2, gate: gate, padding: padding.count
        )
        try await shuttingDownOnError(engine) {
            let filler = try mount.fill()
            // The completions first: a refused write can leave the log file longer than before, with room for them.
            gate.open()
            for primer in submissions.map({ $0.primer! }) {
                let error = await #expect(throws: ActyError.self) { try await primer.boundedResult(timeout: .seconds(10)) }
                #expect(error?.code == .outcomeNotRecorded)
                #expect((error?.cause as? ActyError)?.code == .databaseFull, "\(String(describing: error))")
            }
            // Larger than everything written so far, so it cannot fit in the log file's space either.
            let refused = await #expect(throws: ActyError.self) {
                try await engine.submitGroup("refused", primer: ["n": 9, "padding": .string(String(repeating: "y", count: 2_000_000))])
            }
            #expect(refused?.code == .databaseFull)

            try FileManager.default.removeItem(atPath: filler)
            for job in submissions.flatMap(\.jobs) {
                #expect(try await job.boundedResult().status == .succeeded)
                #expect(try await engine.store.attempts(of: job.id).map(\.outcome) == ["succeeded"])
            }
            try await engine.boundedShutdown()
        }
    }

    @Test func shutdownOnAFullDiskReturnsAndTheNextEngineFinishesTheWork() async throws {
        let mount = try #require(ScratchMount(sizeKB: 8192))
        let path = mount.path + "/acty.db"
        let gate = Gate()
        // Outputs larger than the log: once a checkpoint lets the log start over, small writes fit in the space
        // the log file already has, and a full disk would stop failing them.
        let (engine, submissions) = try await Self.engineWithRunningPrimers(path, groups: 3, gate: gate, padding: 300_000)
        try await shuttingDownOnError(engine) {
            let filler = try mount.fill()
            gate.open()
            await #expect(throws: ActyError.self) { try await submissions[0].primer!.boundedResult(timeout: .seconds(10)) }
            let error = await #expect(throws: ActyError.self) { try await engine.boundedShutdown(timeout: .seconds(15)) }
            #expect(error?.code == .outcomeNotRecorded, "\(String(describing: error))")
            #expect(error?.message.contains("3 finished attempts") == true, "\(String(describing: error))")
            try FileManager.default.removeItem(atPath: filler)
        }

        let next = try await ActyEngine(database: .file(path), configuration: EngineConfiguration(pollInterval: .milliseconds(20)), executors: [gated(by: gate)])
        try await shuttingDownOnError(next) {
            try await expectEveryJobSucceededOnce(submissions, on: next)
            try await next.boundedShutdown()
        }
    }

    /// Linux refuses a read-only remount while SQLite holds files open for writing, so the engine cannot meet one
    /// mid-run here; what such a file system gives its writes (EROFS, an I/O error to SQLite) is reported as
    /// read-only.
    @Test func ioErrorOnAReadOnlyFileSystemIsReportedAsReadOnly() throws {
        let mount = try #require(ScratchMount(sizeKB: 64))
        let path = mount.path + "/acty.db"
        let ioError = DatabaseError(resultCode: .SQLITE_IOERR_WRITE, message: "disk I/O error")
        #expect((StoreErrors.map(ioError, path: path) as? ActyError)?.code == .storage)
        #expect(mount.remount("ro"))
        let error = StoreErrors.map(ioError, path: path) as? ActyError
        #expect(error?.code == .databaseReadOnly)
        #expect(error?.message.contains(path) == true)
    }
}
