import Foundation

/// Creates the files Acty writes (the database, the event log) readable and writable by their owner only.
///
/// Job payloads, outputs and errors can be confidential, so a new file gets mode `0600` whatever the process's
/// umask; an existing file keeps the mode its owner gave it. Setting the umask instead would change it for the whole
/// process, threads included, which a library must not do.
package enum PrivateFile {
    /// The mode of the files Acty creates.
    private static let mode: mode_t = 0o600

    /// Creates an empty file with mode `0600` unless something exists at `path` already.
    ///
    /// - Returns: whether the file was created.
    /// - Throws: the `errno` of `open` (a missing or read-only folder, say) as a `POSIXError`.
    @discardableResult
    package static func createIfMissing(_ path: String) throws -> Bool {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            if errno == EEXIST { return false }
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        defer { close(descriptor) }
        // The umask may have taken bits away (0o277 would leave 0400): set the mode exactly.
        fchmod(descriptor, mode)
        return true
    }
}
