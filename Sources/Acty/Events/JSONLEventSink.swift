import ActyCore
import Foundation

/// Writes events to a file as JSON lines in Python acty's envelope, so `acty-tui` (ours or acty's) can follow or
/// replay them.
///
/// Events are appended: a file already there keeps the lines of earlier runs (each line carries its run's
/// `run_id`), unless the sink is created with `truncate: true`. A new file is created with mode `0600`, readable by
/// its owner only; an existing one keeps its mode. Each committed batch of events is written with one `write` call,
/// so a reader following the file sees whole lines.
public actor JSONLEventSink: EventSink {
    private let handle: FileHandle
    private let runID: String?
    /// The file's path.
    public nonisolated let path: String

    /// Creates the file (and its folder) when missing and opens it for appending.
    ///
    /// - Parameters:
    ///   - path: where to write.
    ///   - runID: the `run_id` of every line; by default the engine's worker id.
    ///   - truncate: empty the file first instead of keeping the lines already in it. `false` by default.
    /// - Throws: ``ActyError/Code/invalidArgument`` when the file cannot be created or opened.
    public init(path: String, runID: String? = nil, truncate: Bool = false) throws {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw ActyError(.invalidArgument, "cannot create the folder of the event log \(path)", cause: error)
        }
        do {
            try PrivateFile.createIfMissing(path)
        } catch {
            throw ActyError(.invalidArgument, "cannot create the event log \(path): check that its folder is writable", cause: error)
        }
        let descriptor = open(path, O_RDWR | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0))
        guard descriptor >= 0 else {
            let error = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            throw ActyError(.invalidArgument, "cannot open the event log \(path): check that it is writable", cause: error)
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        // A run that died in the middle of a write (a full disk) may have left a partial last line: end it, so this
        // run's first line is whole.
        let size = lseek(descriptor, 0, SEEK_END)
        var last: UInt8 = 0
        if size > 0, pread(descriptor, &last, 1, size - 1) == 1, last != UInt8(ascii: "\n") {
            try? handle.write(contentsOf: Data([UInt8(ascii: "\n")]))
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
