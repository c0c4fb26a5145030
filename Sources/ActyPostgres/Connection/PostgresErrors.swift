import ActyCore
import PostgresNIO

/// Turns postgres-nio's errors into ``ActyError``s that say what failed, keeping the original as `cause`. Messages
/// name the server by its URL without the password.
enum PostgresErrors {
    /// An error met while connecting and logging in to `url`.
    static func connecting(_ error: any Error, url: PostgresURL) -> ActyError {
        if let error = error as? ActyError { return error }
        guard let error = error as? PSQLError else {
            return ActyError(.databaseUnavailable, "cannot connect to PostgreSQL at \(url): \(error)", cause: error)
        }
        if error.code == .server, let state = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? "no message"
            switch state {
            case "3D000":
                return ActyError(
                    .databaseUnavailable,
                    "the database \"\(url.database)\" does not exist on the PostgreSQL server at \(url): create it first (CREATE DATABASE)",
                    cause: error
                )
            case "28P01", "28000":
                return ActyError(
                    .databaseUnavailable, "the PostgreSQL server at \(url) refused the login of user \"\(url.user)\": \(message)", cause: error
                )
            default:
                break
            }
        }
        if error.code == .unsupportedAuthMechanism || error.code == .authMechanismRequiresPassword || error.code == .saslError {
            return ActyError(
                .databaseUnavailable, "cannot log in to PostgreSQL at \(url) as \"\(url.user)\": \(describe(error))", cause: error
            )
        }
        return ActyError(.databaseUnavailable, "cannot connect to PostgreSQL at \(url): \(describe(error))", cause: error)
    }

    /// An error a statement met.
    static func statement(_ error: any Error, sql: String, url: PostgresURL) -> ActyError {
        if let error = error as? ActyError { return error }
        guard let error = error as? PSQLError else {
            return ActyError(.storage, "PostgreSQL at \(url): \(error) (running \(sql))", cause: error)
        }
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else {
            return ActyError(.databaseUnavailable, "lost the connection to PostgreSQL at \(url): \(describe(error))", cause: error)
        }
        let message = error.serverInfo?[.message] ?? "no message"
        switch state {
        case "53100":
            return ActyError(.databaseFull, "the PostgreSQL server at \(url) is out of disk space; the write was not saved: \(message)", cause: error)
        case "25006":
            return ActyError(.databaseReadOnly, "the PostgreSQL server at \(url) is read-only (a standby?); the write was not saved", cause: error)
        case "55P03":
            return ActyError(
                .databaseBusy, "another connection held a lock on PostgreSQL at \(url) for too long (\(message)); the write was not saved",
                cause: error
            )
        case "40P01", "40001":
            return ActyError(.databaseBusy, "PostgreSQL at \(url): \(message); the write was not saved", cause: error)
        case _ where state.hasPrefix("08") || state.hasPrefix("57P"):
            return ActyError(.databaseUnavailable, "lost the connection to PostgreSQL at \(url): \(message)", cause: error)
        default:
            return ActyError(.storage, "PostgreSQL: \(message) (SQLSTATE \(state)) running \(sql)", cause: error)
        }
    }

    /// Whether an error means the database could not be written at the time (unreachable, full, read-only, a lock
    /// held too long), rather than anything about the request: the PostgreSQL counterpart of `Store.isWriteFault`.
    package static func isWriteFault(_ error: any Error) -> Bool {
        guard let error = error as? ActyError else { return false }
        return [.databaseUnavailable, .databaseFull, .databaseReadOnly, .databaseBusy].contains(error.code)
    }

    /// postgres-nio's errors describe themselves without the cause; this adds it (a refused connection, a reset).
    private static func describe(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] { return message }
        if let underlying = error.underlying { return "\(underlying)" }
        return "\(error.code)"
    }
}
