import Foundation

/// A temporary folder for one test's files, removed when the last reference to it goes.
public final class TemporaryDirectory: Sendable {
    /// The folder's path.
    public let path: String

    /// Creates a new, empty folder under the system's temporary directory.
    public init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("acty-tests-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func file(_ name: String = "acty.db") -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
