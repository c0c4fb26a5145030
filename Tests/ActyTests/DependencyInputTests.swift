import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Dependencies the engine refuses at submit, with the error's code and message, and what they leave behind: nothing.
@Suite(.timeLimit(.minutes(1)))
struct DependencyInputTests {
    @Test func aGroupDependingOnItselfIsACycle() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { (engine) async throws in
            let refusal = await #expect(throws: ActyError.self) {
                try await engine.submitGroup("g-self", primer: "p", dependsOn: [GroupDependency("g-self")])
            }
            #expect(refusal?.code == .dependencyCycle)
            #expect(Self.message(refusal).contains("g-self → g-self"), "\(Self.message(refusal))")
            #expect(try await engine.store.allGroups().isEmpty)
        }
    }

    @Test func aCycleThroughStoredGroupsIsRefusedAndPrinted() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { (engine) async throws in
            _ = try await engine.submitGroup("g-a", primer: "p", dependsOn: [GroupDependency("g-b")])
            let two = await #expect(throws: ActyError.self) {
                try await engine.submitGroup("g-b", primer: "p", dependsOn: [GroupDependency("g-a")])
            }
            #expect(two?.code == .dependencyCycle)
            #expect(Self.message(two).contains("g-b → g-a → g-b"), "\(Self.message(two))")

            // Three groups: c waits for a (live), a waits for b (not submitted); b waiting for c closes the loop.
            _ = try await engine.submitGroup("g-c", primer: "p", dependsOn: [GroupDependency("g-a")])
            let three = await #expect(throws: ActyError.self) {
                try await engine.openGroup("g-b", dependsOn: [GroupDependency("g-c")])
            }
            #expect(Self.message(three).contains("g-b → g-c → g-a → g-b"), "\(Self.message(three))")
            #expect(try await engine.store.allGroups().map(\.key) == ["g-a", "g-c"])
            // Without the cycle, g-b is accepted and the chain runs.
            let b = try await engine.submitGroup("g-b", primer: "p")
            _ = try await b.primer!.boundedResult()
            #expect(try await engine.waitForGroup("g-c", state: .succeeded))
        }
    }

    @Test func aCycleWithinOneBulkCallStoresNoneOfItsGroups() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { (engine) async throws in
            let refusal = await #expect(throws: ActyError.self) {
                try await engine.submitGroups([
                    GroupSpec("free", primer: "p"),
                    GroupSpec("x", primer: "p", dependsOn: [GroupDependency("y")]),
                    GroupSpec("y", primer: "p", dependsOn: [GroupDependency("z"), GroupDependency("free")]),
                    GroupSpec("z", primer: "p", dependsOn: [GroupDependency("x")]),
                ])
            }
            #expect(refusal?.code == .dependencyCycle)
            #expect(Self.message(refusal).contains("x → y → z → x"), "\(Self.message(refusal))")
            #expect(Self.message(refusal).contains("group spec 1 of 4"), "\(Self.message(refusal))")
            #expect(try await engine.store.allGroups().isEmpty)
            #expect(try await engine.allEvents().ofType(.groupActivated).isEmpty)
        }
    }

    @Test func badDependenciesAreRefusedWithInvalidArgument() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { (engine) async throws in
            let refused: [[GroupDependency]] = [
                [GroupDependency("")],
                [GroupDependency("a", timeout: .zero)],
                [GroupDependency("a", timeout: .seconds(-1))],
                [GroupDependency("a"), GroupDependency("a", policy: .requireSuccess)],
            ]
            for dependencies in refused {
                let refusal = await #expect(throws: ActyError.self) {
                    try await engine.submitGroup("g", primer: "p", dependsOn: dependencies)
                }
                #expect(refusal?.code == .invalidArgument, "\(dependencies)")
            }
            #expect(try await engine.store.allGroups().isEmpty)
            // The same dependency twice counts once.
            let twice = try await engine.submitGroup("g", primer: "p", dependsOn: [GroupDependency("a"), GroupDependency("a")])
            #expect(try await engine.store.dependencies(ofGroup: twice.groupID).count == 1)
            #expect(try await engine.store.group(twice.groupID)?.dependenciesWaiting == 1)
        }
    }

    private static func message(_ error: ActyError?) -> String { error?.message ?? "" }
}
