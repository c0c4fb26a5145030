import ActyCore
import Foundation

/// Where a PostgreSQL database is and how to log in: `postgres://user:password@host:port/database?sslmode=disable`
/// (or `postgresql://…`). The port defaults to 5432, the database to the user's name. Connections are plain TCP:
/// `sslmode` may be `disable` (or `allow`/`prefer`, which PostgreSQL lets fall back to plain TCP); TLS is not
/// supported yet.
package struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    package var host: String
    package var port: Int
    package var user: String
    package var password: String?
    package var database: String

    package init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// Parses `text`.
    ///
    /// - Throws: ``ActyError/Code/invalidArgument`` saying what is wrong; the message never repeats the password.
    package init(_ text: String) throws {
        // URLComponents accepts the text with its password; the errors below quote only what is safe to print.
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw ActyError(.invalidArgument, "not a PostgreSQL URL: expected postgres://user:password@host:port/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw ActyError(.invalidArgument, "not a PostgreSQL URL: the scheme is \(scheme), expected postgres:// or postgresql://")
        }
        guard let user = components.user, !user.isEmpty else {
            throw ActyError(.invalidArgument, "the PostgreSQL URL names no user: expected postgres://user@host/database")
        }
        let host = components.host ?? ""
        guard !host.isEmpty else {
            throw ActyError(.invalidArgument, "the PostgreSQL URL names no host: expected postgres://user@host:port/database")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw ActyError(.invalidArgument, "the PostgreSQL URL's port \(port) is not between 1 and 65535")
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.contains("/") else {
            throw ActyError(.invalidArgument, "the PostgreSQL URL's path must be one database name, not \(path)")
        }
        for item in components.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("sslmode", "disable"), ("sslmode", "allow"), ("sslmode", "prefer"):
                break
            case ("sslmode", let mode):
                throw ActyError(.invalidArgument, "sslmode=\(mode) is not supported: Acty connects to PostgreSQL without TLS (sslmode=disable)")
            default:
                throw ActyError(.invalidArgument, "the PostgreSQL URL's parameter \(item.name) is not supported (only sslmode)")
            }
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.user = user
        self.password = components.password
        self.database = path.isEmpty ? user : path
    }

    /// The URL without its password, safe to print and log.
    package var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(user)@\(host):\(port)/\(database)"
    }
}
