import Acty
import ActyTestSupport
import Foundation
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
}
