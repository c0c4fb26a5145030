import Foundation

/// Writes events to a file as JSON lines in Python acty's envelope, so `acty-tui` (ours or acty's) can follow or
/// replay them.
///
/// The file is truncated when the sink is created. Each committed batch of events is written with one `write`
/// call, so a reader following the file sees whole lines.
public actor JSONLEventSink: EventSink {
    private let handle: FileHandle
    private let runID: String?
    /// The file's path.
    public nonisolated let path: String

    /// Creates the file (and its folder) and opens it for writing.
    ///
    /// - Parameters:
    ///   - path: where to write.
    ///   - runID: the `run_id` of every line; by default the engine's worker id.
    /// - Throws: ``ActyError/Code/invalidArgument`` when the file cannot be created.
    public init(path: String, runID: String? = nil) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw ActyError(.invalidArgument, "cannot create the folder of the event log \(path)", cause: error)
        }
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ActyError(.invalidArgument, "cannot create the event log \(path): check that its folder is writable")
        }
        self.handle = handle
        self.runID = runID
        self.path = path
    }

    /// Appends one line per event.
    public func consume(_ events: [EventRecord]) throws {
        var text = ""
        for event in events {
            text += event.jsonlLine(runID: runID)
            text += "\n"
        }
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// Flushes and closes the file.
    public func close() throws {
        try handle.synchronize()
        try handle.close()
    }
}
