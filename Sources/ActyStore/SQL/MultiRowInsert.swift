/// A multi-row `INSERT … VALUES (…), (…), …` for one table, in every size up to ``maximumRows``.
///
/// On the hot path one statement per row would cost more than the row itself: inserting rows in chunks pays the
/// statement's fixed cost once per chunk. Each size is its own cached prepared statement.
struct MultiRowInsert: Sendable {
    /// The most rows one statement inserts.
    static let maximumRows = 32

    /// The columns each row gives, in order.
    let columns: [String]
    /// The table's integer key, when callers need the ids of the rows they insert.
    let key: String?
    /// The statement for each size, without and with `RETURNING` the key.
    private let statements: [String]
    private let returningStatements: [String]

    init(table: String, key: String? = nil, columns: [String]) {
        self.columns = columns
        self.key = key
        let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        let head = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        let statements = (1...Self.maximumRows).map { count in
            head + Array(repeating: row, count: count).joined(separator: ", ")
        }
        self.statements = statements
        returningStatements = key.map { key in statements.map { $0 + " RETURNING \(key)" } } ?? []
    }

    /// Inserts `rows`, binding each with `bind`, and calls `inserted` with each chunk and the key of its first row
    /// (rows inserted by one statement get consecutive keys).
    func insert<Connection: SQLConnection, Rows: RandomAccessCollection>(
        _ rows: Rows,
        in db: Connection,
        bind: (inout Connection.Statement.Bindings, Rows.Element) -> Void,
        inserted: (Rows.SubSequence, _ firstRowID: Int64) -> Void = { _, _ in }
    ) throws {
        var start = rows.startIndex
        while start != rows.endIndex {
            let count = min(Self.maximumRows, rows.distance(from: start, to: rows.endIndex))
            let end = rows.index(start, offsetBy: count)
            let chunk = rows[start..<end]
            let bindChunk = { (arguments: inout Connection.Statement.Bindings) in
                for row in chunk { bind(&arguments, row) }
            }
            if key == nil {
                try db.cachedStatement(sql: statements[count - 1]).run(bindChunk)
            } else {
                let firstRowID = try db.insertRows(
                    count, with: db.cachedStatement(sql: statementReturningKey(count, db.dialect)), bindChunk
                )
                inserted(chunk, firstRowID)
            }
            start = end
        }
    }

    /// SQLite knows the last row's key without `RETURNING`, which would cost a step per row.
    private func statementReturningKey(_ count: Int, _ dialect: SQLDialect) -> String {
        dialect == .sqlite ? statements[count - 1] : returningStatements[count - 1]
    }
}

extension MultiRowInsert {
    /// Rows of the `events` table.
    static let events = MultiRowInsert(table: "events", key: "seq", columns: ["at", "type", "group_id", "job_id", "lane", "worker", "data"])
    /// Rows of the `attempts` table.
    static let attempts = MultiRowInsert(
        table: "attempts",
        columns: ["job_id", "number", "worker", "pool", "started_at", "finished_at", "outcome", "error", "duration"]
    )
    /// Rows of the `attempts` table for attempts that ran to an outcome, with the tokens they reported.
    static let finishedAttempts = MultiRowInsert(
        table: "attempts",
        columns: attempts.columns + ["prompt_tokens", "completion_tokens", "cached_prompt_tokens"]
    )
    /// Rows of the `groups` table, as inserted at submission.
    static let groups = MultiRowInsert(
        table: "groups",
        key: "id",
        columns: [
            "key", "lane", "state", "primer_state", "primer_policy", "follower_policy", "retry_policy", "job_timeout", "cache_key",
            "cache_context", "group_context", "followers_total", "jobs_total", "jobs_finished", "created_at", "closed_at",
            "dependencies_waiting", "result_handler", "max_resubmits", "admission", "trace_context",
        ]
    )
    /// Rows of the `jobs` table, as inserted at submission.
    static let jobs = MultiRowInsert(
        table: "jobs",
        key: "id",
        columns: [
            "group_id", "role", "follower_index", "executor", "lane", "state", "priority", "payload", "max_attempts", "max_abandoned",
            "created_at", "result_handler",
        ]
    )
    /// Rows of the `group_dependencies` table, as inserted at submission.
    static let dependencies = MultiRowInsert(
        table: "group_dependencies",
        columns: [
            "group_id", "dependency_key", "dependency_id", "policy", "timeout", "due_at", "state", "outcome", "created_at", "resolved_at",
        ]
    )
}
