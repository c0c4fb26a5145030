import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import GRDB
import Testing

/// A way the database stops taking the engine's writes for a while.
///
/// Faults come from the fault-injection VFS (``WriteFaults``), so these tests run on any machine; the real full disk
/// on a tiny tmpfs is in ``StorageFaultTests``, which needs root. A file system that goes read-only under open files
/// fails their writes with EROFS, which SQLite reports as an I/O error: `ioError` covers it (Linux refuses
/// `mount -o remount,ro` while SQLite holds the files open for writing, so it cannot be staged for real mid-run).
enum Outage: Sendable, CustomTestStringConvertible {
    case fault(WriteFaults.Fault)
    /// Another connection holds the write lock (`BEGIN IMMEDIATE`) for longer than the engine's busy timeout.
    case lock

    static let all: [Outage] = [.fault(.diskFull), .fault(.ioError), .lock]

    /// The code of the error a write gets during the outage.
    var code: ActyError.Code {
        switch self {
        case .fault(.diskFull): .databaseFull
        case .fault(.ioError): .storage
        case .lock: .databaseBusy
        }
    }

    var testDescription: String {
        switch self {
        case .fault(let fault): "\(fault)"
        case .lock: "lock held past the busy timeout"
        }
    }

    /// Starts the outage on a database file; it lasts until `end()` is called on what this returns.
    func start(on path: String) throws -> OngoingOutage {
        switch self {
        case .fault(let fault):
            WriteFaults.inject(fault, under: path)
            return OngoingOutage { WriteFaults.inject(nil, under: path) }
        case .lock:
            var configuration = Configuration()
            configuration.allowsUnsafeTransactions = true
            let holder = try DatabaseQueue(path: path, configuration: configuration)
            try holder.inDatabase { try $0.execute(sql: "BEGIN IMMEDIATE") }
            return OngoingOutage {
                try? holder.inDatabase { try $0.execute(sql: "ROLLBACK") }
                try? holder.close()
            }
        }
    }
}

/// An outage in progress; ends at most once, and at the latest when dropped, so a failing test leaves none behind.
final class OngoingOutage: Sendable {
    private let stop: Locked<(@Sendable () -> Void)?>

    init(end: @escaping @Sendable () -> Void) { stop = Locked(end) }

    func end() { stop.withLock { $0.take() }?() }

    deinit { end() }
}

@Suite(.timeLimit(.minutes(2)))
struct WriteFaultTests {
    init() {
        WriteFaults.install()
    }

    /// An engine whose writes give up after half a second, with one gated primer running per group.
    static func engineWithRunningPrimers(
        _ dir: TemporaryDirectory, groups: Int, gate: Gate, leaseDuration: Duration = .seconds(30)
    ) async throws -> (ActyEngine, [GroupSubmission]) {
        let configuration = EngineConfiguration(
            primerWorkers: groups, followerWorkers: 1, leaseDuration: leaseDuration,
            gracefulShutdownTimeout: .milliseconds(500), pollInterval: .milliseconds(20), busyTimeout: .milliseconds(500)
        )
        let engine = try await makeEngine(dir, configuration, executors: [gated(by: gate)])
        return try await shuttingDownOnError(engine) {
            let submissions = try await (0..<groups).asyncMap {
                try await engine.submitGroup("g\($0)", primer: ["n": .number(Double($0))], followers: [["follower": .number(Double($0))]])
            }
            try await require("every primer to run") {
                try await submissions.asyncMap { try await engine.store.job($0.primer!.id)?.state }.allSatisfy { $0 == .running }
            }
            return (engine, submissions)
        }
    }

    @Test(arguments: Outage.all)
    func jobsFinishingDuringAnOutageReportItAndLaterGiveTheirOutcome(outage: Outage) async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let (engine, submissions) = try await Self.engineWithRunningPrimers(dir, groups: 2, gate: gate)
        try await shuttingDownOnError(engine) {
            let ongoing = try outage.start(on: dir.file())
            defer { ongoing.end() }

            let refused = await #expect(throws: ActyError.self) { try await engine.submitGroup("refused", primer: ["n": 9]) }
            #expect(refused?.code == outage.code, "\(String(describing: refused))")

            // The primers finish, but their outcome cannot be written: whoever waits is told so, and why.
            gate.open()
            for primer in submissions.map({ $0.primer! }) {
                let error = await #expect(throws: ActyError.self) { try await primer.boundedResult(timeout: .seconds(10)) }
                #expect(error?.code == .outcomeNotRecorded)
                #expect((error?.cause as? ActyError)?.code == outage.code, "\(String(describing: error))")
                #expect(error?.message.contains("job \(primer.id)") == true)
            }
            // A follower still waiting for its primer is told too.
            let follower = submissions[0].followers[0]
            let waiting = await #expect(throws: ActyError.self) { try await follower.boundedResult(timeout: .seconds(10)) }
            #expect(waiting?.code == .outcomeNotRecorded)

            // The outage ends: the outcomes are recorded once and the run goes on.
            ongoing.end()
            for job in submissions.flatMap(\.jobs) {
                #expect(try await job.boundedResult().status == .succeeded)
            }
            for job in submissions.flatMap(\.jobs) {
                #expect(try await engine.store.attempts(of: job.id).map(\.outcome) == ["succeeded"])
            }
            #expect(try await engine.store.group(key: "refused") == nil)
            let after = try await engine.submitGroup("after", primer: ["n": 10])
            #expect(try await after.primer!.boundedResult().status == .succeeded)
            try await engine.boundedShutdown()
        }
    }

    @Test(arguments: Outage.all)
    func shutdownDuringAnOutageReturnsAndTheNextEngineFinishesTheWork(outage: Outage) async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        // A short lease: the next engine runs in this same process, so it finds these jobs by their expired leases.
        let (engine, submissions) = try await Self.engineWithRunningPrimers(dir, groups: 3, gate: gate, leaseDuration: .seconds(1))
        try await shuttingDownOnError(engine) {
            let ongoing = try outage.start(on: dir.file())
            defer { ongoing.end() }
            gate.open()
            let primer = submissions[0].primer!
            await #expect(throws: ActyError.self) { try await primer.boundedResult(timeout: .seconds(10)) }

            // Busy timeout (0.5 s) plus grace (0.5 s), with room for a slow machine.
            let error = await #expect(throws: ActyError.self) { try await engine.boundedShutdown(timeout: .seconds(15)) }
            #expect(error?.code == .outcomeNotRecorded, "\(String(describing: error))")
            #expect(error?.message.contains("3 finished attempts") == true, "\(String(describing: error))")
            #expect((error?.cause as? ActyError)?.code == outage.code)
            await #expect(throws: ActyError.self) { try await primer.boundedResult() }
            ongoing.end()
        }

        let next = try await makeEngine(dir, EngineConfiguration(pollInterval: .milliseconds(20)), executors: [gated(by: gate)])
        try await shuttingDownOnError(next) {
            try await expectEveryJobSucceededOnce(submissions, on: next)
            try await next.boundedShutdown()
        }
    }

    @Test func idleEngineShutsDownOnAFullDiskAndReportsIt() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, EngineConfiguration(busyTimeout: .milliseconds(500)))
        try await shuttingDownOnError(engine) {
            _ = try await engine.submitGroup("done", primer: ["n": 1]).primer!.boundedResult()
            let ongoing = try Outage.fault(.diskFull).start(on: dir.file())
            defer { ongoing.end() }
            // Recording that the worker stopped fails; the engine still shuts down and closes the database.
            let error = await #expect(throws: ActyError.self) { try await engine.boundedShutdown(timeout: .seconds(10)) }
            #expect(error?.code == .databaseFull)
            await #expect(throws: ActyError.self) { try await engine.submitGroup("late", primer: ["n": 2]) }
        }
        let store = try Store(.file(dir.file()))
        #expect(try await store.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")
        #expect(try await store.group(key: "done")?.state == .succeeded)
        try await store.close()
    }

    @Test func failingWritesAreRetriedWithBackoffNotInABusyLoop() async throws {
        let dir = TemporaryDirectory()
        let gate = Gate()
        let (engine, submissions) = try await Self.engineWithRunningPrimers(dir, groups: 1, gate: gate)
        try await shuttingDownOnError(engine) {
            let ongoing = try Outage.fault(.diskFull).start(on: dir.file())
            defer { ongoing.end() }
            gate.open()
            let primer = submissions[0].primer!
            await #expect(throws: ActyError.self) { try await primer.boundedResult(timeout: .seconds(10)) }
            let firstFailure = WriteFaults.failedWrites(under: dir.file())
            try await Task.sleep(for: .seconds(2))
            // Backing off from 10 ms to 1 s: about 10 tries in 2 s (and the rescue timer's, once a second). A busy
            // loop makes thousands.
            let tries = WriteFaults.failedWrites(under: dir.file()) - firstFailure
            #expect(tries > 0 && tries < 100, "\(tries) failed writes in 2 s")
            ongoing.end()
            #expect(try await primer.boundedResult().status == .succeeded)
            try await engine.boundedShutdown()
        }
    }
}

/// Runs `body`; when it throws, shuts the engine down (bounded) before rethrowing, so a failing test leaves no engine
/// running.
func shuttingDownOnError<T>(_ engine: ActyEngine, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        try? await engine.boundedShutdown()
        throw error
    }
}
