/// One numbered PostgreSQL schema change, embedded at build time from `migrations/postgres/NNNN_name.sql`.
struct Migration: Sendable {
    /// The schema version this migration produces: the same number as SQLite's migration of the same name.
    var version: Int
    /// The file name without number and extension.
    var name: String
    /// The statements to run.
    var sql: String
}
