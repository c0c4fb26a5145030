import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The append-only file where every executor run writes one line: `jobID attempt pid unixTime`.
///
/// What a reader may rely on after this process was killed with SIGKILL:
/// - each line is written with a single `write(2)` on a descriptor opened with `O_APPEND`, so lines of concurrent
///   runs and of several processes never interleave, and a line is either entirely in the file or not at all;
/// - a line whose `write(2)` returned is in the file: it sits in the kernel's page cache, which outlives the
///   process. `fsync` (``init(path:fsync:)``) adds nothing against SIGKILL, only against power loss, and it blocks
///   a thread of the small cooperative pool for milliseconds, so it is off by default;
/// - the line is written when the run *starts*, before the executor's work: a run killed halfway is counted.
///
/// A reader should still ignore a last line without a newline, in case the file system ever tears one.
final class ExecutionLog: Sendable {
    private let descriptor: Int32
    private let sync: Bool

    /// Opens (creating if needed) the log for appending.
    init(path: String, fsync sync: Bool = false) throws {
        descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, "errno": errno])
        }
        self.sync = sync
    }

    /// Appends `jobID attempt pid unixTime` and a newline in one write.
    func record(job: Int64, attempt: Int) {
        let time = String(format: "%.6f", Date().timeIntervalSince1970)
        let line = Array("\(job) \(attempt) \(getpid()) \(time)\n".utf8)
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written != line.count { complain("execution log: short write (\(written) of \(line.count) bytes, errno \(errno))") }
        if sync { fsync(descriptor) }
    }

    /// Appends a free-form line in one write.
    func append(_ text: String) {
        let line = Array((text + "\n").utf8)
        _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    deinit { close(descriptor) }
}
