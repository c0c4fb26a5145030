import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// The README's dependency example, as written there.
@Suite(.timeLimit(.minutes(1)))
struct DependencyReadmeTests {
    @Test func readmeExampleRunsTheNotesAfterBothReviews() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            _ = try await engine.submitGroups([
                GroupSpec("review-1", primer: ["agent": "coordinator"], followers: [["agent": "specialist:ops"]]),
                GroupSpec("review-2", primer: ["agent": "coordinator"], followers: [["agent": "specialist:performance"]]),
            ])
            let notes = try await engine.submitGroup(
                "release-notes", primer: ["agent": "writer"], followers: [],
                dependsOn: [GroupDependency("review-1", policy: .requireSuccess),    // must succeed
                            GroupDependency("review-2", timeout: .seconds(600))]     // .onDone: must finish, or 10 minutes pass
            )
            #expect(try await notes.primer!.boundedResult().status == .succeeded)
            let rows = try await engine.store.dependencies(ofGroup: notes.groupID)
            #expect(rows.map(\.state) == ["done", "done"])
        }
    }
}
