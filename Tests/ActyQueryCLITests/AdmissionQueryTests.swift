import Acty
import ActyStore
import ActyTestSupport
import Foundation
import Testing

/// `acty-query` shows admission: each group's `admission` (`groups`, `group`) and the counts in `summary`.
@Suite(.timeLimit(.minutes(1)))
struct AdmissionQueryTests {
    @Test func pendingAndAdmittedGroupsAreShown() async throws {
        let folder = TemporaryDirectory()
        let path = folder.file()
        // Not running in the background: the first group holds the only slot, the other two wait for it.
        let engine = try await ActyEngine(
            database: .file(path), configuration: EngineConfiguration(maxActiveGroups: 1), executors: [EchoExecutor()], runsInBackground: false
        )
        do {
            for key in ["first", "second", "third"] { _ = try await engine.submitGroup(key, primer: "p") }
        } catch {
            try? await engine.shutdown()
            throw error
        }
        try await engine.shutdown()

        let groups = try await QueryTool.run(["groups", path, "--format", "json"]).json().arrayValue ?? []
        #expect(groups.map { $0["key"] } == ["third", "second", "first"])
        #expect(groups.map { $0["admission"] } == ["pending", "pending", "admitted"])

        let group = try await QueryTool.run(["group", path, "second", "--format", "json"]).json()
        #expect(group["group"]?["admission"] == "pending")

        let summary = try await QueryTool.run(["summary", path, "--format", "json"]).json()
        #expect(summary["overview"]?["groups_admitted"]?.intValue == 1)
        #expect(summary["overview"]?["groups_pending"]?.intValue == 2)
    }
}
