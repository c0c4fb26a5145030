import ActyCore
@testable import ActyPostgres
import ActyStore
import ActyTestSupport
import Foundation
import Testing

@Suite(.postgres) struct PostgresWriterConnectionTests {
    @Test func everyBindingTypeRoundTripsThroughATable() async throws {
        let integers: [Int64] = [.min, -1, 0, 1, .max]
        let reals: [Double] = [-.greatestFiniteMagnitude, -0.0, 0.1, .pi, 1e300, .leastNonzeroMagnitude]
        let texts = ["", "plain", "it's '?' \"quoted\"", "é漢😀👍🏽\u{2028}", String(repeating: "x", count: 100_000)]
        try await withWriter { writer, _ in
            let read = try await writer.perform { connection in
                try connection.execute("CREATE TABLE v (n BIGINT, r DOUBLE PRECISION, t TEXT, position BIGINT)")
                let insert = try connection.cachedStatement(sql: "INSERT INTO v (n, r, t, position) VALUES (?, ?, ?, ?)")
                for position in 0..<6 {
                    try insert.run {
                        $0.add(position < integers.count ? integers[position] : nil)
                        $0.add(reals[position])
                        $0.add(position < texts.count ? texts[position] : nil)
                        $0.add(position)
                    }
                }
                var rows: [(Int64?, Double?, String?)] = []
                try connection.cachedStatement(sql: "SELECT n, r, t FROM v WHERE position >= ? ORDER BY position").forEachRow {
                    $0.add(0)
                } _: { row in
                    rows.append((row.optionalInt64(0), row.optionalDouble(1), row.optionalString(2)))
                }
                return rows.map { "\($0.0.map(String.init) ?? "nil")|\($0.1.map { "\($0)" } ?? "nil")|\($0.2 ?? "nil")" }
            }
            let expected = (0..<6).map { position in
                "\(position < integers.count ? String(integers[position]) : "nil")|\(reals[position])|\(position < texts.count ? texts[position] : "nil")"
            }
            #expect(read == expected)
        }
    }

    @Test func questionMarksInsideLiteralsStayQuestionMarks() async throws {
        try await withWriter { writer, _ in
            let row = try await writer.perform { connection in
                var row: [String] = []
                try connection.cachedStatement(sql: "SELECT '?', ? || '?', \"?column?\" FROM (SELECT 7) AS t(\"?column?\")").forEachRow {
                    $0.add("a")
                } _: { row = [$0.string(0), $0.string(1), $0.string(2)] }
                return row
            }
            #expect(row == ["?", "a?", "7"])
        }
    }

    @Test func changesCountIsTheRowsTheLastWriteChanged() async throws {
        try await withWriter { writer, _ in
            let counts = try await writer.perform { connection in
                try connection.execute("CREATE TABLE c (x BIGINT)")
                var counts: [Int] = []
                try connection.cachedStatement(sql: "INSERT INTO c (x) VALUES (1), (2), (3)").run { _ in }
                counts.append(connection.changesCount)
                try connection.cachedStatement(sql: "UPDATE c SET x = x + 10 WHERE x >= ?").run { $0.add(2) }
                counts.append(connection.changesCount)
                // A SELECT leaves the count of the last write, as SQLite's changes() does.
                _ = try connection.integer("SELECT COUNT(*) FROM c")
                counts.append(connection.changesCount)
                try connection.cachedStatement(sql: "DELETE FROM c").run { _ in }
                counts.append(connection.changesCount)
                try connection.cachedStatement(sql: "UPDATE c SET x = 0").run { _ in }
                counts.append(connection.changesCount)
                return counts
            }
            #expect(counts == [3, 2, 2, 3, 0])
        }
    }

    @Test func rowsDecodeFromEachColumnType() async throws {
        try await withWriter { writer, _ in
            let (values, failure, rowsSeen) = try await writer.perform { connection in
                var values: [String] = []
                try connection.cachedStatement(sql: """
                    SELECT 1::int2, 2::int4, 3::int8, 4.5::numeric, SUM(x), 1.5::float4, 2.5::float8, 'a'::text, 'b'::varchar,
                           true, 1 > 2, NULL, 'c'::name, 'd'::char(2)
                    FROM (VALUES (9000000000::bigint), (1)) AS t(x)
                    """).forEachRow { _ in } _: { row in
                    values = [
                        "\(row.int64(0))", "\(row.int64(1))", "\(row.int64(2))", "\(row.double(3))", "\(row.int64(4))",
                        "\(row.double(5))", "\(row.double(6))", row.string(7), row.string(8), "\(row.int64(9))", "\(row.int64(10))",
                        "\(row.isNull(11))", row.string(12), row.string(13),
                    ]
                }
                var rowsSeen = 0
                let failure = thrownError {
                    try connection.cachedStatement(sql: "SELECT 1 UNION ALL SELECT 2").forEachRow { _ in } _: { _ in rowsSeen += 1 }
                    try connection.cachedStatement(sql: "SELECT 1, now() UNION ALL SELECT 2, now()").forEachRow { _ in } _: { _ in rowsSeen += 1 }
                }
                return (values, failure, rowsSeen)
            }
            #expect(values == ["1", "2", "3", "4.5", "9000000001", "1.5", "2.5", "a", "b", "1", "0", "true", "c", "d "])
            #expect(failure?.code == .storage && failure?.message.contains("does not read") == true)
            // The rows of the statement with an unreadable column were not handed over: decoding comes first.
            #expect(rowsSeen == 2)
        }
    }

    @Test func rolledBackTransactionLeavesNothing() async throws {
        try await withWriter { writer, _ in
            let (inside, after, open) = try await writer.perform { connection in
                try connection.execute("CREATE TABLE r (x BIGINT)")
                try connection.beginWriteTransaction()
                try connection.cachedStatement(sql: "INSERT INTO r VALUES (?)").run { $0.add(1) }
                let inside = try connection.integer("SELECT COUNT(*) FROM r")
                connection.rollbackTransaction()
                return (inside, try connection.integer("SELECT COUNT(*) FROM r"), connection.isInsideTransaction)
            }
            #expect(inside == 1 && after == 0 && !open)
        }
    }

    @Test func failedStatementLeavesTheTransactionToRollBack() async throws {
        try await withWriter { writer, _ in
            let (error, after) = try await writer.perform { connection in
                try connection.execute("CREATE TABLE f (x BIGINT NOT NULL)")
                try connection.beginWriteTransaction()
                try connection.cachedStatement(sql: "INSERT INTO f VALUES (?)").run { $0.add(1) }
                let error = thrownError { try connection.cachedStatement(sql: "INSERT INTO f VALUES (?)").run { $0.addNull() } }
                connection.rollbackTransaction()
                return (error, try connection.integer("SELECT COUNT(*) FROM f"))
            }
            #expect(error?.code == .storage && error?.message.contains("23502") == true)
            #expect(after == 0)
        }
    }

    /// While one writer holds a write transaction, another's `beginWriteTransaction()` waits for the commit: PostgreSQL
    /// shows the second waiting for the lock, it returns from `begin` only after the first sent its COMMIT, and its
    /// first read sees what the first wrote.
    @Test func secondWriterWaitsForTheFirstToCommit() async throws {
        try await PostgresTestServer.withDatabase { url in
            try await withWriter(url: url) { first in
                try await withWriter(url: url) { second in
                    try await withWriter(url: url) { observer in
                        try await first.perform { connection in
                            try connection.execute("CREATE TABLE turns (writer TEXT, seen BIGINT)")
                            try connection.beginWriteTransaction()
                            try connection.cachedStatement(sql: "INSERT INTO turns VALUES ('first', 0)").run { _ in }
                        }
                        let committing = Locked<ContinuousClock.Instant?>(nil)
                        async let secondBegan: ContinuousClock.Instant = second.perform { connection in
                            try connection.beginWriteTransaction()
                            let began = ContinuousClock.now
                            try connection.cachedStatement(sql: "INSERT INTO turns SELECT 'second', COUNT(*) FROM turns").run { _ in }
                            try connection.commit()
                            return began
                        }
                        try await require("the second writer waits for the write lock") {
                            try await observer.perform {
                                try $0.integer("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                            } == 1
                        }
                        try await first.perform { connection in
                            committing.withLock { $0 = ContinuousClock.now }
                            try connection.commit()
                        }
                        let began = try await secondBegan
                        let rows = try await observer.perform { try $0.strings("SELECT writer, seen FROM turns ORDER BY writer") }
                        #expect(rows == [["first", "0"], ["second", "1"]])
                        let commitSent = try #require(committing.withLock { $0 })
                        #expect(began > commitSent)
                    }
                }
            }
        }
    }

    /// A writer that never commits makes the next one fail with ``ActyError/Code/databaseBusy`` after its timeout,
    /// as SQLite's busy timeout does, and leaves its connection usable.
    @Test func writeLockHeldTooLongIsBusyNotAHang() async throws {
        try await PostgresTestServer.withDatabase { url in
            try await withWriter(url: url) { holder in
                try await withWriter(url: url, timeout: .seconds(2)) { waiter in
                    try await holder.perform { try $0.beginWriteTransaction() }
                    let (error, afterwards) = try await waiter.perform { connection in
                        (thrownError { try connection.beginWriteTransaction() }, try connection.integer("SELECT 5"))
                    }
                    #expect(error?.code == .databaseBusy && error?.message.contains("lock") == true)
                    #expect(afterwards == 5)
                    try await holder.perform { try $0.commit() }
                }
            }
        }
    }

    @Test func stoppedServerGivesAnErrorNotAHang() async throws {
        let server = try await PostgresTestServer.Private()
        do {
            try await withWriter(url: server.url, timeout: .seconds(10)) { writer in
                let before = try await writer.perform { try $0.integer("SELECT 1") }
                #expect(before == 1)
                try await writer.perform { try $0.beginWriteTransaction() }
                await server.stop()
                let (inside, after) = try await writer.perform { connection in
                    (thrownError { _ = try connection.integer("SELECT 2") }, thrownError { _ = try connection.integer("SELECT 3") })
                }
                #expect(inside?.code == .databaseUnavailable)
                #expect(after?.code == .databaseUnavailable && after?.message.contains("cannot connect to PostgreSQL at postgres://acty@127.0.0.1:") == true)
            }
        } catch {
            await server.stop()
            throw error
        }
    }

    @Test func connectionLostBetweenTransactionsIsOpenedAgain() async throws {
        try await PostgresTestServer.withDatabase { url in
            try await withWriter(url: url) { writer in
                try await withWriter(url: url) { killer in
                    let pid = try await writer.perform { try $0.integer("SELECT pg_backend_pid()") }
                    _ = try await killer.perform { try $0.integer("SELECT pg_terminate_backend(\(pid))::int") }
                    // The first statement may meet the dying connection; the next one runs on a new connection.
                    let newPid = try await writer.perform { connection in
                        _ = try? connection.integer("SELECT 1")
                        return try connection.integer("SELECT pg_backend_pid()")
                    }
                    #expect(newPid != pid && newPid > 0)
                }
            }
        }
    }

    @Test func unreachableServerMissingDatabaseAndBadURLsGiveClearErrors() async throws {
        let server = try await PostgresTestServer.serverURL()
        var missing = try PostgresURL(server)
        missing.database = "acty_no_such_database"
        missing.password = "secret"
        var unreachable = try PostgresURL(server)
        unreachable.port = 1
        unreachable.password = "secret"
        for (url, expected) in [
            (missing, "the database \"acty_no_such_database\" does not exist on the PostgreSQL server at postgres://acty@127.0.0.1:"),
            (unreachable, "cannot connect to PostgreSQL at postgres://acty@127.0.0.1:1/acty"),
        ] {
            do {
                _ = try await PostgresWriterQueue.open(url: url, timeout: .seconds(10))
                Issue.record("connected to \(url)")
            } catch let error as ActyError {
                #expect(error.code == .databaseUnavailable)
                #expect(error.message.contains(expected), "\(error.message)")
                #expect(!error.message.contains("secret"))
            }
        }
    }
}
