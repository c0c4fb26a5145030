package import ActyCore
package import ActyStore
package import Foundation

/// Reads a run's events from an Acty database or a JSONL log in acty's envelope.
package enum RunLog {
    /// Events and the count of lines that were not events.
    package struct Contents: Sendable {
        package var events: [TUIEvent]
        package var badLines: Int
    }

    /// Whether the file starts with SQLite's header.
    package static func isDatabase(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        return header == Data("SQLite format 3\0".utf8)
    }

    /// Every event of the file (database or JSONL).
    ///
    /// - Throws: ``ActyError`` `databaseUnavailable` for a missing file, `incompatibleSchema` for a database that
    ///   is not Acty's or is newer, `invalidArgument` for a file holding no event at all.
    package static func load(_ path: String) throws -> Contents {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ActyError(.databaseUnavailable, "no file at \(path)")
        }
        if isDatabase(path) {
            return Contents(events: try events(ofDatabaseAt: path).map(TUIEvent.init), badLines: 0)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ActyError(.databaseUnavailable, "cannot read \(path)")
        }
        let contents = parseJSONL(data)
        if contents.events.isEmpty && contents.badLines > 0 {
            throw ActyError(
                .invalidArgument,
                "\(path) is neither an Acty database nor a JSONL event log: none of its \(contents.badLines) lines is an event"
            )
        }
        return contents
    }

    /// The events of a JSONL log; blank lines are skipped, other lines that are not events are counted.
    package static func parseJSONL(_ data: Data) -> Contents {
        var events: [TUIEvent] = []
        let bad = forEachJSONLEvent(data) { events.append($0) }
        return Contents(events: events, badLines: bad)
    }

    /// Calls `body` with each event of a JSONL log, in order, without holding them all; returns the count of lines
    /// that were not events (blank lines are skipped).
    static func forEachJSONLEvent(_ data: Data, _ body: (TUIEvent) -> Void) -> Int {
        var bad = 0
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            let bytes = buffer.bindMemory(to: UInt8.self)
            var start = 0
            while start < bytes.count {
                let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
                let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if line.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) {
                    if let event = TUIEvent(jsonlBytes: line) {
                        body(event)
                    } else {
                        bad += 1
                    }
                }
                start = end + 1
            }
        }
        return bad
    }

    /// Every event of a database, oldest first, read in pages (each its own short read transaction).
    package static func events(ofDatabaseAt path: String) throws -> [EventRecord] {
        try events(of: Store.openReadOnly(path), after: 0)
    }

    /// Events of a database after `seq`, oldest first, read in pages (each its own short read transaction).
    package static func events(of store: ReadOnlyStore, after seq: Int64, pageSize: Int = 10_000) throws -> [EventRecord] {
        var events: [EventRecord] = []
        var last = seq
        while true {
            let page = try store.eventRecords(after: last, limit: pageSize)
            events.append(contentsOf: page)
            guard let next = page.last?.seq, page.count == pageSize else { break }
            last = next
        }
        return events
    }

    /// The state after every event of the file. A JSONL log is applied as it is read, never held whole.
    package static func state(of path: String) throws -> DashboardState {
        var state = DashboardState()
        if !isDatabase(path), let data = FileManager.default.contents(atPath: path) {
            let bad = forEachJSONLEvent(data) { state.apply($0) }
            state.badLines = bad
            if state.applied > 0 || state.badLines == 0 { return state }
        }
        let contents = try load(path)
        state = DashboardState()
        state.badLines = contents.badLines
        for event in contents.events { state.apply(event) }
        return state
    }
}
