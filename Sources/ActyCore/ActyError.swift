/// An error reported by Acty: bad input, an unusable database, or a state that does not allow the request.
///
/// Compare errors by ``code``; the ``message`` says what failed and how to fix it, and ``description`` reads
/// `<code>: <message> (<cause>)` so command-line tools can print it as it is.
public struct ActyError: Error, Sendable, CustomStringConvertible {
    /// A kind of Acty error. New codes may be added in minor releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case databaseUnavailable = "database unavailable"
            case databaseReadOnly = "database read-only"
            case databaseFull = "database full"
            case databaseBusy = "database busy"
            case incompatibleSchema = "incompatible schema"
            case invalidArgument = "invalid argument"
            case unknownExecutor = "unknown executor"
            case unknownResultHandler = "unknown result handler"
            case unknownGroup = "unknown group"
            case unknownJob = "unknown job"
            case unknownLane = "unknown lane"
            case groupKeyInUse = "group key in use"
            case groupClosed = "group closed"
            case encodingFailed = "encoding failed"
            case engineStopped = "engine stopped"
            case outcomeNotRecorded = "outcome not recorded"
            case storage = "storage error"
            case dependencyCycle = "dependency cycle"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The database file cannot be opened or created.
        public static let databaseUnavailable = Code(.databaseUnavailable)
        /// The database file or its folder cannot be written.
        public static let databaseReadOnly = Code(.databaseReadOnly)
        /// The disk or the database is full; nothing of the failed write was kept.
        public static let databaseFull = Code(.databaseFull)
        /// Another connection held the database's write lock for longer than the busy timeout; nothing of the
        /// failed write was kept.
        public static let databaseBusy = Code(.databaseBusy)
        /// The database was written by a newer version of Acty, or is not an Acty database.
        public static let incompatibleSchema = Code(.incompatibleSchema)
        /// An argument is out of range or malformed.
        public static let invalidArgument = Code(.invalidArgument)
        /// No executor with the requested name is registered in this process.
        public static let unknownExecutor = Code(.unknownExecutor)
        /// No live engine has the result handler that jobs need.
        public static let unknownResultHandler = Code(.unknownResultHandler)
        /// No group with the requested key exists (or none is live, where a live one is needed).
        public static let unknownGroup = Code(.unknownGroup)
        /// No job with the requested id exists.
        public static let unknownJob = Code(.unknownJob)
        /// No lane with the requested name exists.
        public static let unknownLane = Code(.unknownLane)
        /// A live group already uses the key.
        public static let groupKeyInUse = Code(.groupKeyInUse)
        /// The group no longer accepts work: it is closed or finished.
        public static let groupClosed = Code(.groupClosed)
        /// A payload or value could not be encoded as JSON.
        public static let encodingFailed = Code(.encodingFailed)
        /// The engine has shut down.
        public static let engineStopped = Code(.engineStopped)
        /// The engine cannot write the job's outcome to the database (full disk, read-only file system, I/O error,
        /// a lock held too long; see ``ActyError/cause``). The engine keeps retrying: the job is not lost, and
        /// ``JobHandle/result()`` called again returns its outcome once it is recorded.
        public static let outcomeNotRecorded = Code(.outcomeNotRecorded)
        /// SQLite reported an unexpected error.
        public static let storage = Code(.storage)
        /// A group's dependencies would close a cycle (a group depending on itself is one); the message prints it,
        /// as `a → b → a`. Nothing of the submission is stored.
        public static let dependencyCycle = Code(.dependencyCycle)

        public var description: String { value.rawValue }
    }

    /// The kind of error.
    public var code: Code
    /// What failed and how it may be fixed.
    public var message: String
    /// The underlying error, such as GRDB's `DatabaseError`, kept so callers can inspect it.
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(code): \(message) (\(cause))" }
        return "\(code): \(message)"
    }
}

extension ActyError.Code {
    /// Matches any error that is an ``ActyError`` with this code, so callers can `catch ActyError.Code.groupClosed`.
    public static func ~= (pattern: ActyError.Code, error: any Error) -> Bool {
        (error as? ActyError)?.code == pattern
    }
}
