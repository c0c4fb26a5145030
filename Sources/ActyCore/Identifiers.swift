/// The identifier of a job: the row id of the job in the database.
///
/// Ids are assigned when a job is committed, are never reused within a database file and stay valid across
/// restarts, so an id printed by one process can be looked up by another.
public struct JobID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The database row id.
    public let rawValue: Int64

    /// Creates an id from a database row id.
    public init(_ rawValue: Int64) {
        self.rawValue = rawValue
    }

    public var description: String { String(rawValue) }

    public static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The identifier of a group row.
///
/// Users name groups by their key; this id tells apart groups that reused a key after an earlier group with the
/// same key finished.
public struct GroupID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The database row id.
    public let rawValue: Int64

    /// Creates an id from a database row id.
    public init(_ rawValue: Int64) {
        self.rawValue = rawValue
    }

    public var description: String { String(rawValue) }

    public static func < (lhs: GroupID, rhs: GroupID) -> Bool { lhs.rawValue < rhs.rawValue }
}
