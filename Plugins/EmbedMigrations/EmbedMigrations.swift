import Foundation
import PackagePlugin

/// Embeds the package's migrations into the target as Swift string constants: SQLite's `migrations/*.sql` into
/// ActyStore, PostgreSQL's `migrations/postgres/*.sql` into ActyPostgres. Each target declares its own `Migration`
/// type with `version`, `name` and `sql`.
///
/// The SQL files stay the single source of truth for the schema, and the built binaries carry their migrations
/// with them: an `acty-query` copied anywhere can still open and migrate a database.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let folder = target.name == "ActyPostgres" ? "migrations/postgres" : "migrations"
        let directory = context.package.directoryURL.appending(path: folder)
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) migrations from \(folder)",
                executable: try context.tool(named: "embed-migrations").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        ]
    }
}
