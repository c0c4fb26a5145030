import ActyTestSupport
import Foundation
import Testing

/// Damaged database files, opened by a real engine process (`acty-test-worker work`): each gets a clear error or
/// runs to its end, never a crash or a hang. A child process, because a crash must fail the test, not end the run.
@Suite(.timeLimit(.minutes(2)))
struct CorruptFileTests {
    /// One way to damage a file.
    enum Damage: CustomStringConvertible {
        case truncate(to: Int)
        case flip(offset: Int, mask: UInt8)

        func apply(to data: Data) -> Data {
            switch self {
            case .truncate(let size):
                return data.prefix(size)
            case .flip(let offset, let mask):
                var damaged = data
                damaged[offset] ^= mask
                return damaged
            }
        }

        var description: String {
            switch self {
            case .truncate(let size): "truncated to \(size) bytes"
            case .flip(let offset, let mask): "byte \(offset) xor \(mask)"
            }
        }
    }

    /// A closed database (its WAL folded in) with a finished run and a queued one.
    static func sample(in dir: TemporaryDirectory) async throws -> Data {
        let path = dir.file("sample.db")
        _ = try await TestWorkerProcess.run(["submit", "--database", path, "--groups", "20", "--followers", "4"], in: dir, name: "submit-1")
        _ = try await TestWorkerProcess.run(["work", "--database", path, "--log", dir.file("sample.log")], in: dir, name: "work")
        _ = try await TestWorkerProcess.run(["submit", "--database", path, "--groups", "5", "--followers", "2"], in: dir, name: "submit-2")
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Runs an engine process on the damaged copy until every job is terminal or 2 s passed.
    static func run(_ damage: Damage, of sample: Data, in dir: TemporaryDirectory, name: String) async throws -> (ChildProcess.Exit, String) {
        let path = dir.file(name + ".db")
        try damage.apply(to: sample).write(to: URL(fileURLWithPath: path))
        let child = try TestWorkerProcess(["work", "--database", path, "--log", dir.file(name + ".log"), "--timeout", "2"], in: dir, name: name)
        return (try await child.waitForExit(timeout: .seconds(30)), child.stderr)
    }

    @Test func damagedFilesGiveAClearErrorOrRunNeverACrashOrAHang() async throws {
        let dir = TemporaryDirectory()
        let sample = try await Self.sample(in: dir)
        var damages: [Damage] = [50, 100, 1_000, 4_196, sample.count / 2, sample.count - 4_096].map { .truncate(to: $0) }
        // The header's fields, the schema page, and seeded random places in the rest.
        damages += [0, 16, 18, 20, 28, 56, 96, 100, 4_096, 4_100].map { .flip(offset: $0, mask: 0x10) }
        var random = SeededBytes(seed: 7)
        damages += (0..<12).map { _ in .flip(offset: random.next(below: sample.count), mask: 1 << UInt8(random.next(below: 8))) }

        for (index, damage) in damages.enumerated() {
            let (exit, stderr) = try await Self.run(damage, of: sample, in: dir, name: "damaged-\(index)")
            // 0: the run completed; 1: a clear error; 2: the tool gave up waiting for jobs the damage made unreachable.
            #expect([.status(0), .status(1), .status(2)].contains(exit), "\(damage): \(exit)\n\(stderr)")
            if exit == .status(1) {
                // A write-version byte from the future makes SQLite open the file read-only. Damage in pages that
                // completions write shows when the engine stops: it reports the outcomes it could not record.
                let codes = ["database unavailable", "incompatible schema", "database read-only", "storage error", "outcome not recorded"]
                #expect(codes.contains { stderr.contains("Error: \($0): ") }, "\(damage): \(stderr)")
            }
        }
    }

    @Test func aDamagedHeaderOrATruncatedSchemaIsReportedAsSuch() async throws {
        let dir = TemporaryDirectory()
        let sample = try await Self.sample(in: dir)
        let (header, headerError) = try await Self.run(.flip(offset: 0, mask: 0x10), of: sample, in: dir, name: "header")
        #expect(header == .status(1))
        #expect(headerError.contains("database unavailable: the file") && headerError.contains("header.db is not a SQLite database"), "\(headerError)")
        let (truncated, truncatedError) = try await Self.run(.truncate(to: 100), of: sample, in: dir, name: "truncated")
        #expect(truncated == .status(1))
        #expect(truncatedError.contains("database unavailable: the database") && truncatedError.contains("truncated.db is corrupt"), "\(truncatedError)")
    }
}

/// A small seeded generator (xorshift64*), so the damaged places are the same in every run.
struct SeededBytes {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next(below bound: Int) -> Int {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return Int((state &* 0x2545_F491_4F6C_DD1D) % UInt64(bound))
    }
}
