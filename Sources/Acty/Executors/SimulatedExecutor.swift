
/// An executor that stands in for a real model or API call: it waits a random delay and fails at a given rate.
///
/// Delays and failures come from a seeded generator, so a run with the same seed and the same job order makes the
/// same choices. The output echoes the payload with the simulated delay.
public struct SimulatedExecutor: Executor {
    /// The error a simulated failure throws.
    public struct SimulatedFailure: Error, Sendable, CustomStringConvertible {
        /// The failed job.
        public var jobID: JobID
        public var description: String { "simulated failure of job \(jobID)" }
    }

    /// The executor's name.
    public let name: String
    /// The shortest delay.
    public let minDelay: Duration
    /// The longest delay.
    public let maxDelay: Duration
    /// The share of attempts that fail, from 0 to 1.
    public let failureRate: Double
    private let generator: Generator

    /// Creates a simulated executor.
    ///
    /// - Precondition: `minDelay <= maxDelay` and `failureRate` is between 0 and 1.
    public init(name: String = "simulated", minDelay: Duration = .zero, maxDelay: Duration = .zero, failureRate: Double = 0, seed: UInt64 = 7) {
        precondition(minDelay <= maxDelay, "minDelay must not exceed maxDelay")
        precondition((0...1).contains(failureRate), "failureRate must be between 0 and 1")
        self.name = name
        self.minDelay = minDelay
        self.maxDelay = maxDelay
        self.failureRate = failureRate
        self.generator = Generator(seed: seed)
    }

    /// Sleeps a random delay, then fails with probability ``failureRate`` or returns the payload and the delay.
    public func execute(_ job: Job) async throws -> JSONValue {
        let (fraction, roll) = generator.next()
        let delay = minDelay + (maxDelay - minDelay) * fraction
        if delay > .zero { try await Task.sleep(for: delay) }
        if roll < failureRate { throw SimulatedFailure(jobID: job.id) }
        let seconds = delay.seconds
        return ["echo": job.payload, "delay_s": .number(seconds)]
    }

    /// A shared SplitMix64 generator.
    private final class Generator: Sendable {
        private let state: Locked<UInt64>

        init(seed: UInt64) {
            state = Locked(seed)
        }

        /// Two uniform numbers in [0, 1): the delay fraction and the failure roll.
        func next() -> (Double, Double) {
            state.withLock { state in
                (Self.uniform(&state), Self.uniform(&state))
            }
        }

        private static func uniform(_ state: inout UInt64) -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53)
        }
    }
}
