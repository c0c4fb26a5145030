import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Foundation
import Testing

/// `GroupRegistry`: open groups by (namespace, key).
@Suite(.timeLimit(.minutes(1)))
struct GroupRegistryTests {
    @Test func ensureOpensOnceAndKeepsTheDependenciesItOpenedWith() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let registry = GroupRegistry(engine: engine, cacheKey: { "cache:\($0.namespace):\($0.key)" }, groupContext: { ["ns": .string($0.namespace)] })
            let key = GroupRegistry.Key(namespace: "trace-1", key: "core")
            let dependency = GroupDependency("dep-1")
            let group = try await registry.ensure(key, dependsOn: [dependency])
            #expect(group.key == "trace-1:core")
            #expect(try await registry.ensure(key, dependsOn: [dependency]).id == group.id)
            #expect(try await registry.ensure(key).id == group.id, "no dependencies: the stored ones stay")
            await expectError(.invalidArgument) { try await registry.ensure(key, dependsOn: [GroupDependency("dep-2")]) }
            let stored = try #require(try await engine.store.group(key: "trace-1:core"))
            #expect(stored.cacheKey == "cache:trace-1:core")
            #expect(stored.groupContext == #"{"ns":"trace-1"}"#)
            #expect(stored.dependenciesWaiting == 1)
            #expect(try await engine.store.allGroups().count == 1)
        }
    }

    @Test func concurrentEnsuresOpenOneGroup() async throws {
        let dir = TemporaryDirectory()
        try await withEngine(dir) { engine in
            let registry = GroupRegistry(engine: engine)
            let ids = try await withThrowingTaskGroup(of: GroupID.self) { tasks in
                for _ in 0..<10 { tasks.addTask { try await registry.ensure(.init(namespace: "t", key: "core")).id } }
                return try await tasks.reduce(into: Set<GroupID>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
            #expect(try await engine.store.allGroups().count == 1)
        }
    }

    @Test func closingANamespaceClosesOnlyItsGroupsAndCallsTheHook() async throws {
        let dir = TemporaryDirectory()
        let closed = Recorder<String>()
        try await withEngine(dir) { engine in
            let registry = GroupRegistry(engine: engine, onClose: { closed.append($0) })
            for (namespace, key) in [("ns-a", "one"), ("ns-a", "two"), ("ns-b", "three")] {
                _ = try await registry.ensure(.init(namespace: namespace, key: key))
            }
            try await registry.closeNamespace("ns-a")
            #expect(Set(closed.values) == ["ns-a:one", "ns-a:two"])
            #expect(try await engine.store.group(key: "ns-b:three")?.state == .open)
            await expectError(.unknownGroup) { try await registry.get(.init(namespace: "ns-a", key: "one")) }
            #expect(try await registry.get(.init(namespace: "ns-b", key: "three")).key == "ns-b:three")
            try await registry.closeAll()
            #expect(closed.values.last == "ns-b:three")
            #expect(try await engine.waitForGroup("ns-b:three", state: .succeeded))
        }
    }

    @Test func aRegistryOfARestartedProcessReattachesToTheOpenGroup() async throws {
        let dir = TemporaryDirectory()
        let key = GroupRegistry.Key(namespace: "trace-9", key: "core")
        let first = try await withEngine(dir) { engine in try await engine.lane("tenant-a").registry().ensure(key).id }
        let again = try await withEngine(dir) { engine in
            let registry = GroupRegistry(engine: engine)
            await expectError(.unknownGroup) { try await registry.get(key) }
            return try await registry.ensure(key).id
        }
        #expect(again == first)
        let lane = try await withEngine(dir) { engine in try await engine.store.group(key: "trace-9:core")?.lane }
        #expect(lane == "tenant-a")
    }
}
