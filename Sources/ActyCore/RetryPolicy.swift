/// How often a failed job is tried again, and how long it waits in between.
///
/// A failed attempt with attempts left is not retried on the spot: the job moves to `scheduled` with a `run_at`
/// time and no worker waits for it. Delays grow exponentially from ``initialDelay`` by ``multiplier`` up to
/// ``maximumDelay``, then ``jitter`` spreads them so that jobs that failed together do not retry together.
///
/// ```swift
/// let policy = RetryPolicy(maxAttempts: 5, initialDelay: .milliseconds(500), multiplier: 2, maximumDelay: .seconds(30))
/// ```
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// How delays are randomised.
    public enum Jitter: String, Sendable, Hashable, Codable, CaseIterable {
        /// The computed delay, exactly.
        case none
        /// A uniform delay between 0 and the computed delay (spreads retries the most).
        case full
        /// Half the computed delay plus a uniform part up to the other half.
        case equal
    }

    /// Attempts a job may have in all, the first included; 1 means no retry. The default is 1.
    public var maxAttempts: Int
    /// The delay before the second attempt. The default is 1 s.
    public var initialDelay: Duration
    /// The factor each further delay grows by. The default is 2.
    public var multiplier: Double
    /// The longest delay. The default is 60 s.
    public var maximumDelay: Duration
    /// How delays are randomised. The default is ``Jitter/full``.
    public var jitter: Jitter

    /// No retries: a failed attempt fails the job.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Creates a policy.
    ///
    /// - Precondition: `maxAttempts >= 1`, delays not negative, `multiplier >= 1`, `initialDelay <= maximumDelay`.
    public init(
        maxAttempts: Int = 1,
        initialDelay: Duration = .seconds(1),
        multiplier: Double = 2,
        maximumDelay: Duration = .seconds(60),
        jitter: Jitter = .full
    ) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maximumDelay = maximumDelay
        self.jitter = jitter
    }

    /// Checks the policy and says what is wrong.
    public func validate() throws {
        guard maxAttempts >= 1 else {
            throw ActyError(.invalidArgument, "a retry policy needs maxAttempts of at least 1 (1 means no retry), not \(maxAttempts)")
        }
        guard initialDelay >= .zero, maximumDelay >= initialDelay else {
            throw ActyError(.invalidArgument, "a retry policy needs 0 <= initialDelay <= maximumDelay")
        }
        guard multiplier.isFinite, multiplier >= 1 else {
            throw ActyError(.invalidArgument, "a retry policy's multiplier must be a finite number of at least 1, not \(multiplier)")
        }
    }

    /// The delay before the attempt after `attempt` (the one that just failed, counting from 1), before jitter:
    /// `initialDelay × multiplier^(attempt − 1)`, capped at ``maximumDelay``.
    public func baseDelay(afterAttempt attempt: Int) -> Duration {
        let initial = initialDelay.seconds
        let maximum = maximumDelay.seconds
        let grown = initial * pow(multiplier, Double(max(0, attempt - 1)))
        return .seconds(min(maximum, grown.isFinite ? grown : maximum))
    }

    /// The delay before the next attempt, with jitter drawn from `random`, a number in `0..<1`.
    public func delay(afterAttempt attempt: Int, random: Double) -> Duration {
        let base = baseDelay(afterAttempt: attempt).seconds
        let fraction = min(max(random, 0), 1)
        switch jitter {
        case .none: return .seconds(base)
        case .full: return .seconds(base * fraction)
        case .equal: return .seconds(base / 2 + base / 2 * fraction)
        }
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    // Exponents here are small whole numbers; a loop avoids importing Foundation into the pure core.
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0, result.isFinite {
        result *= base
        remaining -= 1
    }
    return result
}

extension RetryPolicy {
    /// The stored form, as in `groups.retry_policy`: seconds for delays.
    public var jsonValue: JSONValue {
        [
            "max_attempts": .number(Double(maxAttempts)),
            "initial_delay": .number(initialDelay.seconds),
            "multiplier": .number(multiplier),
            "maximum_delay": .number(maximumDelay.seconds),
            "jitter": .string(jitter.rawValue),
        ]
    }

    /// Reads the stored form; missing fields take their defaults.
    public init(stored value: JSONValue) {
        let defaults = RetryPolicy()
        self.init(
            maxAttempts: value["max_attempts"]?.intValue ?? defaults.maxAttempts,
            initialDelay: value["initial_delay"]?.doubleValue.map { .seconds($0) } ?? defaults.initialDelay,
            multiplier: value["multiplier"]?.doubleValue ?? defaults.multiplier,
            maximumDelay: value["maximum_delay"]?.doubleValue.map { .seconds($0) } ?? defaults.maximumDelay,
            jitter: value["jitter"]?.stringValue.flatMap(Jitter.init(rawValue:)) ?? defaults.jitter
        )
    }
}
