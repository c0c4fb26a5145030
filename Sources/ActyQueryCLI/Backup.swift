import ActyCore
import ActyStore
import ArgumentParser
import Foundation

/// `acty-query backup`: a consistent copy of a database, also while a run is using it.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a database, also while a run is using it, into one self-contained file.",
        discussion: """
            Copying the .db file alone misses what is still in its write-ahead log (the -wal file), and copying the \
            files one by one while an engine writes can give a torn copy. This uses SQLite's online backup instead: \
            the copy holds everything committed when it began, needs no -wal beside it, and opens with acty-query or \
            an engine. The database is only read.

            Example:
              acty-query backup acty.db acty-copy.db
            """
    )

    @Argument(help: "The Acty database file to copy (opened read-only).")
    var db: String
    @Argument(help: "The file to write the copy to; it must not exist unless --force is given.")
    var destination: String
    @Flag(help: "Replace the destination file if it exists.")
    var force = false

    func run() async throws {
        try reportingErrors {
            let store = try openReadOnly(db)
            var isFolder: ObjCBool = false
            if !force, FileManager.default.fileExists(atPath: destination, isDirectory: &isFolder), !isFolder.boolValue {
                throw ActyError(.databaseUnavailable, "\(destination) already exists: choose another file, or pass --force to replace it")
            }
            try store.backup(to: destination)
            let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? Int) ?? 0
            confirm("copied \(db) to \(destination) (\(size) bytes)")
        }
    }
}
