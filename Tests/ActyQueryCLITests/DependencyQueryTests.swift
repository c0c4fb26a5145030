import Acty
import ActyStore
import ActyTestSupport
import Foundation
import Testing

/// `acty-query` shows group dependencies: blocked groups (`groups --blocked`), dependency rows (`dependencies`),
/// and a group's own (`group`).
@Suite(.timeLimit(.minutes(1)))
struct DependencyQueryTests {
    @Test func blockedGroupsAndTheirDependenciesAreListed() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        let engine = try await ActyEngine(database: .file(path), executors: [EchoExecutor()])
        do {
            _ = try await engine.submitGroup("waiting", primer: "p", dependsOn: [GroupDependency("never", policy: .requireSuccess)])
            let notes = try await engine.submitGroup("notes", primer: "p", dependsOn: [GroupDependency("review")])
            _ = try await engine.submitGroup("review", primer: "p")
            _ = try await notes.primer!.result()
        } catch {
            try? await engine.shutdown()
            throw error
        }
        try await engine.shutdown()

        let blocked = try await QueryTool.run(["groups", path, "--blocked", "--format", "json"]).json().arrayValue ?? []
        #expect(blocked.map { $0["key"] } == ["waiting"])
        #expect(blocked.first?["dependencies_waiting"]?.intValue == 1)

        let waiting = try await QueryTool.run(["dependencies", path, "--state", "waiting", "--format", "json"]).json().arrayValue ?? []
        #expect(waiting.count == 1)
        #expect(waiting.first?["group_key"] == "waiting")
        #expect(waiting.first?["dependency_key"] == "never")
        #expect(waiting.first?["policy"] == "require_success")
        #expect(waiting.first?["dependency_group_id"] == .null)

        let group = try await QueryTool.run(["group", path, "notes", "--format", "json"]).json()
        let dependencies = group["dependencies"]?.arrayValue ?? []
        #expect(dependencies.map { $0["dependency_key"] } == ["review"])
        #expect(dependencies.first?["state"] == "done")
        #expect(dependencies.first?["outcome"] == "succeeded")

        let summary = try await QueryTool.run(["summary", path, "--format", "json"]).json()
        #expect(summary["overview"]?["groups_blocked"]?.intValue == 1)

        let table = try await QueryTool.run(["dependencies", path])
        #expect(table.status == 0 && table.stdout.contains("never"), "\(table.stdout)")
    }
}
