import Acty
import ActyStore
import Testing

struct SmokeTests {
    @Test func runsAGroup() async throws {
        let dir = TemporaryDirectory()
        let engine = try await ActyEngine(database: .file(dir.file()), executors: [EchoExecutor()])
        let submission = try await engine.submitGroup("g1", primer: ["agent": "coord"], followers: [["agent": "a"], ["agent": "b"]])
        let primer = try await submission.primer!.result()
        #expect(primer.status == .succeeded)
        #expect(primer.output == ["agent": "coord"])
        for follower in submission.followers {
            #expect(try await follower.result().status == .succeeded)
        }
        try await engine.shutdown()
    }
}
