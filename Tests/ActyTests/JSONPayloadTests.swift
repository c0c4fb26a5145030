import ActyTestSupport
@testable import Acty
import ActyStore
import Foundation
import Testing

/// Payloads and outputs at the edges of JSON: what submission accepts comes back identical to the executor, from
/// `result()` and from the store; what the store cannot give back is refused at submission or fails the attempt.
@Suite(.timeLimit(.minutes(1)))
struct JSONPayloadTests {
    /// `levels` arrays one inside the other around `1`.
    static func nested(_ levels: Int) -> JSONValue {
        (0..<levels).reduce(1) { value, _ in [value] }
    }

    static let limit = JSONValue.maximumParsingDepth

    @Test func payloadsNestedPastTheLimitAreRefusedNamingTheJobTheDepthAndTheLimit() async throws {
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir)
        do {
            let tooDeep = Self.nested(Self.limit + 1)
            let refusals: [(String, () async throws -> Void)] = [
                ("the primer of group 'p' nests arrays and objects \(Self.limit + 1) levels deep", {
                    try await engine.submitGroup("p", primer: tooDeep)
                }),
                ("follower 1 of group 'f' nests arrays and objects 20000 levels deep", {
                    try await engine.submitGroup("f", primer: "p", followers: ["ok", Self.nested(20_000)])
                }),
                ("the group context of 'g' nests", { try await engine.submitGroup("g", primer: "p", groupContext: tooDeep) }),
                ("the cache context of 'c' nests", {
                    try await engine.submitGroup("c", primer: "p", cacheKey: "k", cacheContext: ["deep": tooDeep])
                }),
            ]
            for (message, submit) in refusals {
                let error = await #expect(throws: ActyError.self) { try await submit() }
                #expect(error?.code == .encodingFailed)
                #expect(error?.message.contains(message) == true, "\(String(describing: error))")
                #expect(error?.message.contains("more than the \(Self.limit) levels") == true)
            }
            #expect(try await engine.store.allGroups().isEmpty)
            #expect(try await engine.store.allJobs().isEmpty)

            let group = try await engine.openGroup("open")
            let primer = await #expect(throws: ActyError.self) { try await group.submitPrimer(tooDeep) }
            #expect(primer?.code == .encodingFailed)
            let follower = await #expect(throws: ActyError.self) { try await group.addFollower(tooDeep) }
            #expect(follower?.message.contains("a follower of group 'open' nests") == true)
            #expect(try await engine.store.jobs(inGroup: group.id).isEmpty)
            try await group.close()
        } catch {
            try? await engine.boundedShutdown()
            throw error
        }
        try await engine.boundedShutdown()
    }

    @Test func outputTheStoreCannotHoldFailsTheAttemptWithoutRetrying() async throws {
        let dir = TemporaryDirectory()
        let executor = ClosureExecutor(name: "bad-output") { job in
            job.payload == "deep" ? Self.nested(600) : ["score": .number(.nan)]
        }
        let options = GroupOptions(retryPolicy: RetryPolicy(maxAttempts: 3, initialDelay: .zero, maximumDelay: .zero))
        let engine = try await makeEngine(dir, executors: [executor])
        do {
            let submission = try await engine.submitGroup("g", primer: nil, followers: ["deep", "nan"], options: options)
            let deep = try await submission.followers[0].boundedResult()
            #expect(deep.status == .failed)
            #expect(deep.output == nil)
            #expect(deep.attempts == 1)
            #expect(deep.error?.type == "InvalidOutput")
            #expect(deep.error?.message == "the output nests arrays and objects 600 levels deep, more than the \(Self.limit) levels JSON text may have here")
            let nan = try await submission.followers[1].boundedResult()
            #expect(nan.status == .failed && nan.attempts == 1)
            #expect(nan.error?.message == "the output has a number JSON cannot hold (NaN or infinity) at $.score")

            let stored = try #require(try await engine.store.job(submission.followers[0].id))
            #expect(stored.state == .failed)
            #expect(stored.result == nil)
        } catch {
            try? await engine.boundedShutdown()
            throw error
        }
        try await engine.boundedShutdown()
    }

    @Test func textLongerThanSQLiteStoresInOneValueIsRefusedWithItsSize() throws {
        let value: JSONValue = ["text": "0123456789"]
        #expect(try StoredJSON.text(value, limit: 21).get() == #"{"text":"0123456789"}"#)
        let refusal = #expect(throws: StoredJSON.Refusal.self) { try StoredJSON.text(value, limit: 20).get() }
        #expect(refusal?.message == "is 21 bytes of JSON text, more than the 20 bytes SQLite stores in one value")
    }

    @Test(arguments: 0..<4)
    func randomPayloadsComeBackIdenticalFromTheExecutorAndTheStore(seed: Int) async throws {
        var random = SplitMix64(seed: UInt64(seed) &+ 0xEC40)
        let payloads = [Self.nested(Self.limit)] + (0..<40).map { _ in random.jsonValue() }
        let context = random.jsonValue(maxDepth: 4)
        let seen = Recorder<(JobID, JSONValue, JSONValue?)>()
        let executor = ClosureExecutor(name: "echo") { job in
            seen.append((job.id, job.payload, job.groupContext))
            return job.payload
        }
        let dir = TemporaryDirectory()
        let engine = try await makeEngine(dir, executors: [executor])
        var ids: [JobID] = []
        do {
            let submission = try await engine.submitGroup("g", primer: payloads[0], followers: Array(payloads.dropFirst()), groupContext: context)
            ids = submission.jobs.map(\.id)
            for (handle, payload) in zip(submission.jobs, payloads) {
                let result = try await handle.boundedResult()
                #expect(result.status == .succeeded)
                #expect(result.output == payload)
            }
        } catch {
            try? await engine.boundedShutdown()
            throw error
        }
        try await engine.boundedShutdown()
        let executed = Dictionary(seen.values.map { ($0.0, ($0.1, $0.2)) }, uniquingKeysWith: { first, _ in first })
        for (id, payload) in zip(ids, payloads) {
            #expect(executed[id]?.0 == payload)
            #expect(executed[id]?.1 == context)
        }

        // A new engine reads the outputs back from the database.
        let reopened = try await makeEngine(dir, executors: [executor])
        do {
            for (id, payload) in zip(ids, payloads) {
                let result = try await reopened.handle(for: id).boundedResult()
                #expect(result.output == payload)
                #expect(result.output?.jsonString == payload.jsonString)
            }
        } catch {
            try? await reopened.boundedShutdown()
            throw error
        }
        try await reopened.boundedShutdown()
    }
}
