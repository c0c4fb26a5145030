import ActyCore
@testable import ActyStore
import Dispatch
import Foundation
import GRDB
import Testing

@Suite(.timeLimit(.minutes(1)))
struct GroupCommitWriterTests {
    /// Counts the commits and rollbacks of the writer connection, through SQLite's commit and rollback hooks.
    final class TransactionCounter: TransactionObserver, Sendable {
        private let counts = Shared((commits: 0, rollbacks: 0))

        var commits: Int { counts.value.commits }
        var rollbacks: Int { counts.value.rollbacks }

        func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
        func databaseDidChange(with event: DatabaseEvent) {}
        func databaseDidCommit(_ db: Database) { counts.update { $0.commits += 1 } }
        func databaseDidRollback(_ db: Database) { counts.update { $0.rollbacks += 1 } }
    }

    /// Holds the writer thread inside a request until released, so that the requests sent meanwhile queue up
    /// for the next batch.
    final class Gate: Sendable {
        let entered = Shared(false)
        private let semaphore = DispatchSemaphore(value: 0)

        /// Runs on the writer thread: blocks until ``open()`` (at most 30 s, so a failing test cannot hang).
        func hold() {
            entered.update { $0 = true }
            _ = semaphore.wait(timeout: .now() + 30)
        }

        func open() { semaphore.signal() }
    }

    struct Boom: Error, Equatable {
        var id: Int
    }

    /// A writer over a new WAL database with an `items` table, and a commit counter on its connection.
    static func withWriter(
        _ body: (GroupCommitWriter<SQLiteWriterQueue>, DatabasePool, TransactionCounter, _ path: String) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/writer.db"
            let pool = try DatabasePool(path: path)
            defer { try? pool.close() }
            try await pool.write { db in
                try db.execute(sql: """
                    CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                    CREATE TABLE parents (id INTEGER PRIMARY KEY);
                    CREATE TABLE children (
                        id INTEGER PRIMARY KEY,
                        parent_id INTEGER NOT NULL REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED);
                    """)
            }
            let counter = TransactionCounter()
            pool.add(transactionObserver: counter, extent: .observerLifetime)
            try await body(GroupCommitWriter(database: pool), pool, counter, path)
        }
    }

    static func insert(_ name: String, _ db: Database) throws -> Int64 {
        try db.execute(sql: "INSERT INTO items (name) VALUES (?)", arguments: [name])
        return db.lastInsertedRowID
    }

    static func names(_ pool: DatabasePool) async throws -> Set<String> {
        try await pool.read { try String.fetchSet($0, sql: "SELECT name FROM items") }
    }

    // MARK: - Batching

    @Test func concurrentWritesShareTransactions() async throws {
        try await Self.withWriter { writer, pool, counter, _ in
            let gate = Gate()
            let sent = Shared(0)
            let requests = 200
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    _ = try await writer.write { db in
                        gate.hold()
                        return try Self.insert("first", db)
                    }
                }
                try await waitUntil("the first request to hold the writer") { gate.entered.value }
                for index in 0..<requests {
                    group.addTask {
                        sent.update { $0 += 1 }
                        _ = try await writer.write { try Self.insert("item-\(index)", $0) }
                    }
                }
                try await waitUntil("every request to be sent") { sent.value == requests }
                gate.open()
                try await group.waitForAll()
            }
            #expect(try await Self.names(pool).count == requests + 1)
            // The first request committed alone; the others queued behind it and shared transactions.
            #expect(counter.commits >= 2)
            #expect(counter.commits < requests / 2, "\(counter.commits) commits for \(requests + 1) requests")
            #expect(counter.rollbacks == 0)
        }
    }

    // MARK: - The tail

    /// A tail that inserts the rows it is given, once per batch, and notes what the writer tells it.
    final class RecordingTail: BatchTail {
        let toInsert = Shared([String]())
        let log = Shared([String]())

        func beforeCommit(_ db: Database) throws {
            let names = toInsert.update { names in
                defer { names = [] }
                return names
            }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM items") ?? -1
            log.update { $0.append("tail saw \(count)") }
            for name in names { _ = try GroupCommitWriterTests.insert(name, db) }
        }

        func afterTransaction(_ outcome: TransactionOutcome) {
            let name =
                switch outcome {
                case .committed: "committed"
                case .rolledBackToRetry: "retry"
                case .failed: "failed"
                }
            log.update { $0.append(name) }
        }
    }

    @Test func theTailRunsAfterTheRequestsInTheirTransactionAndHearsOfTheCommitBeforeTheCaller() async throws {
        try await Self.withWriter { _, pool, counter, _ in
            let tail = RecordingTail()
            let writer = GroupCommitWriter(database: pool, tail: tail)
            tail.toInsert.update { $0 = ["from-tail"] }
            let value = try await writer.write({ try Self.insert("request", $0) }, committed: { id in
                tail.log.update { $0.append("request committed") }
                return id
            })
            tail.log.update { $0.append("caller resumed") }
            #expect(value > 0)
            #expect(tail.log.value == ["tail saw 1", "request committed", "committed", "caller resumed"])
            #expect(counter.commits == 1)
            #expect(try await Self.names(pool) == ["request", "from-tail"])
        }
    }

    @Test func aKickRunsABatchForTheTailAlone() async throws {
        try await Self.withWriter { _, pool, counter, _ in
            let tail = RecordingTail()
            let writer = GroupCommitWriter(database: pool, tail: tail)
            tail.toInsert.update { $0 = ["kicked"] }
            writer.kick()
            try await waitUntil("the kicked batch to commit") { tail.log.value.contains("committed") }
            #expect(counter.commits == 1)
            #expect(try await Self.names(pool) == ["kicked"])
            // Kicks while a batch runs are folded into one more batch, not one each.
            for _ in 0..<20 { writer.kick() }
            try await waitUntil("the batches to end") { tail.log.value.count(where: { $0 == "committed" }) >= 2 }
            #expect(tail.log.value.count(where: { $0 == "committed" }) <= 21)
        }
    }

    @Test func sequentialWritesEachCommit() async throws {
        try await Self.withWriter { writer, pool, counter, _ in
            for index in 0..<5 {
                _ = try await writer.write { try Self.insert("item-\(index)", $0) }
            }
            #expect(counter.commits == 5)
            #expect(try await Self.names(pool).count == 5)
        }
    }

    // MARK: - Failures

    @Test func failingRequestGetsItsErrorWhileTheOthersCommit() async throws {
        try await Self.withWriter { _, pool, counter, _ in
            let gate = Gate()
            let sent = Shared(0)
            let runs = Shared([String: Int]())
            let failure = Shared<(any Error)?>(nil)
            let tail = RecordingTail()
            let writer = GroupCommitWriter(database: pool, tail: tail)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await writer.write { db in gate.hold(); return try Self.insert("first", db) } }
                try await waitUntil("the first request to hold the writer") { gate.entered.value }
                for index in 0..<20 {
                    let name = "ok-\(index)"
                    group.addTask {
                        sent.update { $0 += 1 }
                        _ = try await writer.write { db in
                            runs.update { $0[name, default: 0] += 1 }
                            return try Self.insert(name, db)
                        }
                    }
                }
                group.addTask {
                    sent.update { $0 += 1 }
                    do {
                        _ = try await writer.write { db -> Int64 in
                            _ = try Self.insert("bad", db)
                            throw Boom(id: 7)
                        }
                    } catch {
                        failure.update { $0 = error }
                    }
                }
                try await waitUntil("every request to be sent") { sent.value == 21 }
                gate.open()
                try await group.waitForAll()
            }
            #expect(failure.value as? Boom == Boom(id: 7))
            let names = try await Self.names(pool)
            #expect(!names.contains("bad"))
            #expect(names == Set(["first"] + (0..<20).map { "ok-\($0)" }))
            // The requests rolled back with the failing one ran again once, and the tail heard of the rollback
            // before it ran, once, after the requests that commit.
            #expect(runs.value.values.allSatisfy { $0 <= 2 })
            #expect(runs.value.values.contains(2))
            #expect(counter.rollbacks == 1)
            #expect(tail.log.value.filter { !$0.hasPrefix("tail saw") } == ["committed", "retry", "committed"])
        }
    }

    @Test func aWriteFaultMetByOneRequestFailsTheWholeBatchAtOnce() async throws {
        try await Self.withWriter { writer, pool, counter, _ in
            let gate = Gate()
            let sent = Shared(0)
            let runs = Shared([String: Int]())
            let errors = Shared([any Error]())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await writer.write { db in gate.hold(); return try Self.insert("first", db) } }
                try await waitUntil("the first request to hold the writer") { gate.entered.value }
                // A full disk met by any request means no request of the batch can be written: rerunning the
                // others one failure at a time would only meet it again.
                for index in 0..<10 {
                    let name = "item-\(index)"
                    group.addTask {
                        sent.update { $0 += 1 }
                        do {
                            _ = try await writer.write { db -> Int64 in
                                runs.update { $0[name, default: 0] += 1 }
                                if index == 0 { throw DatabaseError(resultCode: .SQLITE_FULL, message: "database or disk is full") }
                                return try Self.insert(name, db)
                            }
                        } catch {
                            errors.update { $0.append(error) }
                        }
                    }
                }
                try await waitUntil("every request to be sent") { sent.value == 10 }
                gate.open()
                try await group.waitForAll()
            }
            #expect(errors.value.count == 10)
            for error in errors.value {
                #expect((error as? ActyError)?.code == .databaseFull)
            }
            #expect(runs.value.values.allSatisfy { $0 == 1 }, "no request ran twice")
            #expect(counter.rollbacks == 1)
            #expect(try await Self.names(pool) == ["first"])
        }
    }

    @Test func databaseErrorOfOneRequestIsMappedAndOthersCommit() async throws {
        try await Self.withWriter { writer, pool, _, _ in
            _ = try await writer.write { try Self.insert("taken", $0) }
            async let duplicate = writer.write { try Self.insert("taken", $0) }
            async let fresh = writer.write { try Self.insert("fresh", $0) }
            do {
                _ = try await duplicate
                Issue.record("a duplicate name must fail")
            } catch let error as ActyError {
                #expect(error.code == .storage)
                #expect((error.cause as? DatabaseError)?.resultCode == .SQLITE_CONSTRAINT)
            }
            _ = try await fresh
            #expect(try await Self.names(pool) == ["taken", "fresh"])
        }
    }

    @Test func aFailedCommitTellsTheTailAndNeverRunsCommitted() async throws {
        try await Self.withWriter { writer, pool, counter, _ in
            let committedRan = Shared(false)
            let tail = RecordingTail()
            // A deferred foreign key is checked at COMMIT: the request succeeds, then its transaction fails.
            let orphan = GroupCommitWriter(database: pool, tail: tail)
            let error = await #expect(throws: ActyError.self) {
                try await orphan.write({ db -> Int64 in
                    try db.execute(sql: "INSERT INTO children (parent_id) VALUES (999)")
                    return db.lastInsertedRowID
                }, committed: { id in
                    committedRan.update { $0 = true }
                    return id
                })
            }
            #expect((error?.cause as? DatabaseError)?.resultCode == .SQLITE_CONSTRAINT)
            #expect(!committedRan.value)
            #expect(tail.log.value == ["tail saw 0", "failed"])
            #expect(counter.commits == 0)
            let children = try await pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM children") }
            #expect(children == 0)

            // The writer keeps working after a failed commit.
            _ = try await writer.write { try Self.insert("after", $0) }
            #expect(try await Self.names(pool) == ["after"])
        }
    }

    // MARK: - Acknowledgement

    @Test func valueIsReturnedOnlyAfterCommit() async throws {
        try await Self.withWriter { _, pool, _, path in
            let other = try DatabaseQueue(path: path)
            defer { try? other.close() }
            let seenInsideTransaction = Shared<Int?>(nil)
            let events = Shared([String]())
            let tail = RecordingTail()
            let writer = GroupCommitWriter(database: pool, tail: tail)
            let id = try await writer.write { db -> Int64 in
                let id = try Self.insert("visible", db)
                // Another connection does not see the row before the commit.
                let count = try other.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM items") }
                seenInsideTransaction.update { $0 = count }
                events.update { $0.append("ran") }
                return id
            }
            events.update { $0.append("returned") }
            #expect(seenInsideTransaction.value == 0)
            #expect(events.value == ["ran", "returned"])
            #expect(tail.log.value == ["tail saw 1", "committed"])
            let row = try await other.read { try String.fetchOne($0, sql: "SELECT name FROM items WHERE id = ?", arguments: [id]) }
            #expect(row == "visible")
        }
    }

    @Test func storeWriteReturnsCommittedEffects() async throws {
        try await withStore { store, path in
            let (submitted, effects) = try await store.submitGroup(.closed("g", followers: 1), worker: "w1")
            #expect(effects.readyWork == [WorkKind(role: .primer, lane: "default")])
            let other = try DatabaseQueue(path: path)
            defer { try? other.close() }
            let jobs = try await other.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM jobs WHERE group_id = ?", arguments: [submitted.id.rawValue]) }
            #expect(jobs == 2)
        }
    }
}
