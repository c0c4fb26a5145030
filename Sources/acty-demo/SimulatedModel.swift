import Acty

/// A stand-in for a model asked for a JSON verdict: it takes as long and fails as often as a ``SimulatedExecutor``,
/// then answers with JSON text, which is broken now and then (cut off, wrapped in prose, or missing a key), as real
/// models' answers are. A ``JSONRepairHandler`` asks it to repair those, and a repaired answer is broken half as
/// often.
struct SimulatedModel: Executor {
    /// The keys every answer should have.
    static let answerKeys = ["agent", "verdict", "findings"]

    let name = "simulated"
    let timing: SimulatedExecutor
    /// The share of answers that come back broken.
    let brokenRate: Double
    private let generator: Locked<SplitMix64>

    init(timing: SimulatedExecutor, brokenRate: Double, seed: UInt64) {
        self.timing = timing
        self.brokenRate = brokenRate
        generator = Locked(SplitMix64(seed: seed ^ 0x4A53_4F4E))
    }

    func execute(_ job: Job) async throws -> JSONValue {
        _ = try await timing.execute(job)
        let (roll, pick) = generator.withLock { ($0.unit(), $0.below(3)) }
        let agent = job.payload["agent"] ?? "unknown"
        let verdict: JSONValue = pick == 0 ? "needs-work" : "go"
        let answer: JSONValue = ["agent": agent, "verdict": verdict, "findings": [.string("checked: \(job.payload["task"]?.stringValue ?? "the ask")")]]
        let isRepair = job.payload["meta"]?["repair_attempt"] != nil
        guard roll < (isRepair ? brokenRate / 2 : brokenRate) else { return .string(answer.jsonString) }
        switch pick {
        case 0: return .string(String(answer.jsonString.dropLast(12)))
        case 1: return .string("Sure! Here is my review: \(answer.jsonString)")
        default: return .string((["agent": agent, "verdict": verdict] as JSONValue).jsonString)
        }
    }
}
