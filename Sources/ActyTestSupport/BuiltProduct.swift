public import Foundation

/// Finds an executable this package built, for tests that run it as a real child process.
///
/// In order:
/// 1. the environment variable named by the caller, when set, names the binary;
/// 2. the products folder the test binary runs from: the folder of the `.xctest` bundle (macOS) or executable
///    (Linux), which is `<scratch path>/<triple>/debug`, whatever `--scratch-path` said;
/// 3. `.build*/debug` and `.build*/*/debug` under the package root found from the caller's `#filePath`, newest
///    first (for runners that load the tests from somewhere else).
///
/// `swift build --build-tests` and `swift test` build every executable target, so the binary is there without the
/// test target depending on it.
public enum BuiltProduct {
    /// The executable `name`.
    ///
    /// - Parameters:
    ///   - environmentVariable: a variable that, when set, names the binary to use.
    ///   - filePath: a file two folders below the package root (a test file: `Tests/<Target>/<file>.swift`).
    /// - Throws: ``NotFound`` listing every place searched.
    public static func url(named name: String, environmentVariable: String, filePath: String = #filePath) throws -> URL {
        let manager = FileManager.default
        if let path = ProcessInfo.processInfo.environment[environmentVariable] {
            guard manager.isExecutableFile(atPath: path) else { throw NotFound(name: name, variable: environmentVariable, searched: [path]) }
            return URL(fileURLWithPath: path)
        }
        var folders: [URL] = []
        for bundle in Bundle.allBundles + [Bundle.main] {
            if bundle.bundleURL.pathExtension == "xctest" { folders.append(bundle.bundleURL.deletingLastPathComponent()) }
            if let executable = bundle.executableURL { folders.append(executable.deletingLastPathComponent()) }
        }
        folders.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        #if os(Linux)
        if let executable = try? manager.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folders.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
        }
        #endif
        for folder in folders {
            let candidate = folder.appendingPathComponent(name)
            if manager.isExecutableFile(atPath: candidate.path) { return candidate }
        }

        // Tests/<Target>/<file>.swift → the package root.
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var candidates: [URL] = []
        let scratch = (try? manager.contentsOfDirectory(atPath: root.path))?.filter { $0.hasPrefix(".build") } ?? []
        for folder in scratch.map({ root.appendingPathComponent($0) }) {
            candidates.append(folder.appendingPathComponent("debug/\(name)"))
            for triple in (try? manager.contentsOfDirectory(atPath: folder.path)) ?? [] {
                candidates.append(folder.appendingPathComponent("\(triple)/debug/\(name)"))
            }
        }
        let found = candidates.filter { manager.isExecutableFile(atPath: $0.path) }
        func modified(_ url: URL) -> Date {
            ((try? manager.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date) ?? .distantPast
        }
        guard let newest = found.max(by: { modified($0) < modified($1) }) else {
            throw NotFound(name: name, variable: environmentVariable, searched: folders.map(\.path) + candidates.map(\.path))
        }
        return newest
    }

    /// The executable was not found.
    public struct NotFound: Error, CustomStringConvertible {
        /// The executable looked for.
        public let name: String
        /// The environment variable that can name it.
        public let variable: String
        /// Every place searched.
        public let searched: [String]

        public var description: String {
            "\(name) was not found; build it with `swift build --build-tests` or set \(variable). Searched: "
                + searched.joined(separator: ", ")
        }
    }
}
