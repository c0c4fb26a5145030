import ActyCore
import ActyTestSupport
import Testing

/// Backoff arithmetic, jitter, validation and the stored form of ``RetryPolicy``.
struct RetryPolicyTests {
    /// `a` and `b` within a nanosecond: delays are computed in `Double` seconds.
    private static func close(_ a: Duration, _ b: Duration) -> Bool {
        abs(a.seconds - b.seconds) < 1e-9
    }

    /// `count` numbers in `0..<1` from a fixed seed, plus the ends of the range.
    private static func randomFractions(_ count: Int, seed: UInt64) -> [Double] {
        var generator = SplitMix64(seed: seed)
        return [0, 0.5, 0.999_999_999] + (0..<count).map { _ in Double.random(in: 0..<1, using: &generator) }
    }

    // MARK: - Base delays

    @Test func baseDelaysDoubleFromTheInitialDelayUntilTheMaximum() {
        let policy = RetryPolicy(maxAttempts: 10, initialDelay: .seconds(1), multiplier: 2, maximumDelay: .seconds(20), jitter: .none)
        let delays = (1...8).map { policy.baseDelay(afterAttempt: $0) }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(20), .seconds(20), .seconds(20)])
    }

    @Test func baseDelaysUseTheMultiplier() {
        let policy = RetryPolicy(initialDelay: .milliseconds(500), multiplier: 3, maximumDelay: .seconds(100))
        #expect(Self.close(policy.baseDelay(afterAttempt: 1), .milliseconds(500)))
        #expect(Self.close(policy.baseDelay(afterAttempt: 2), .milliseconds(1500)))
        #expect(Self.close(policy.baseDelay(afterAttempt: 3), .milliseconds(4500)))
        #expect(Self.close(policy.baseDelay(afterAttempt: 4), .milliseconds(13500)))
    }

    @Test func multiplierOneKeepsTheDelayConstant() {
        let policy = RetryPolicy(maxAttempts: 50, initialDelay: .milliseconds(250), multiplier: 1, maximumDelay: .seconds(60))
        for attempt in 1...50 {
            #expect(policy.baseDelay(afterAttempt: attempt) == .milliseconds(250), "attempt \(attempt)")
        }
    }

    @Test func initialDelayZeroRetriesAtOnceWhateverTheJitter() {
        for jitter in RetryPolicy.Jitter.allCases {
            let policy = RetryPolicy(maxAttempts: 5, initialDelay: .zero, multiplier: 2, maximumDelay: .seconds(10), jitter: jitter)
            for attempt in 1...5 {
                #expect(policy.baseDelay(afterAttempt: attempt) == .zero)
                #expect(policy.delay(afterAttempt: attempt, random: 0.7) == .zero, "\(jitter), attempt \(attempt)")
            }
        }
    }

    @Test func hugeAttemptNumbersStayAtTheMaximumInsteadOfOverflowing() {
        let policy = RetryPolicy(initialDelay: .seconds(1), multiplier: 10, maximumDelay: .seconds(30))
        #expect(policy.baseDelay(afterAttempt: 400) == .seconds(30))
        #expect(policy.baseDelay(afterAttempt: 10_000) == .seconds(30))
        #expect(policy.delay(afterAttempt: 10_000, random: 1) <= .seconds(30))
    }

    @Test func attemptsBelowOneUseTheInitialDelay() {
        let policy = RetryPolicy(initialDelay: .seconds(2), maximumDelay: .seconds(60))
        #expect(policy.baseDelay(afterAttempt: 0) == .seconds(2))
        #expect(policy.baseDelay(afterAttempt: -3) == .seconds(2))
    }

    // MARK: - Jitter

    @Test func noJitterReturnsTheBaseDelayForAnyRandomNumber() {
        let policy = RetryPolicy(maxAttempts: 6, initialDelay: .milliseconds(300), maximumDelay: .seconds(5), jitter: .none)
        for attempt in 1...6 {
            let base = policy.baseDelay(afterAttempt: attempt)
            for random in Self.randomFractions(200, seed: 1) {
                #expect(policy.delay(afterAttempt: attempt, random: random) == base)
            }
        }
    }

    @Test func fullJitterStaysBetweenZeroAndTheBaseDelayAndSpreadsOverIt() {
        let policy = RetryPolicy(maxAttempts: 6, initialDelay: .seconds(1), maximumDelay: .seconds(10), jitter: .full)
        for attempt in 1...6 {
            let base = policy.baseDelay(afterAttempt: attempt).seconds
            let delays = Self.randomFractions(2_000, seed: UInt64(attempt)).map { policy.delay(afterAttempt: attempt, random: $0).seconds }
            #expect(delays.allSatisfy { $0 >= 0 && $0 <= base }, "attempt \(attempt)")
            // Spread: the draws reach both the lowest and the highest tenth of the range.
            #expect(delays.contains { $0 < base * 0.1 })
            #expect(delays.contains { $0 > base * 0.9 })
        }
        #expect(policy.delay(afterAttempt: 1, random: 0) == .zero)
    }

    @Test func equalJitterStaysBetweenHalfAndTheWholeBaseDelay() {
        let policy = RetryPolicy(maxAttempts: 6, initialDelay: .seconds(1), maximumDelay: .seconds(10), jitter: .equal)
        for attempt in 1...6 {
            let base = policy.baseDelay(afterAttempt: attempt).seconds
            let delays = Self.randomFractions(2_000, seed: 100 + UInt64(attempt)).map { policy.delay(afterAttempt: attempt, random: $0).seconds }
            #expect(delays.allSatisfy { $0 >= base / 2 && $0 <= base }, "attempt \(attempt)")
            #expect(delays.contains { $0 < base * 0.55 })
            #expect(delays.contains { $0 > base * 0.95 })
        }
        #expect(Self.close(policy.delay(afterAttempt: 1, random: 0), .milliseconds(500)))
        #expect(Self.close(policy.delay(afterAttempt: 2, random: 0.5), .milliseconds(1500)))
    }

    @Test(arguments: RetryPolicy.Jitter.allCases)
    func theSameRandomNumberGivesTheSameDelay(jitter: RetryPolicy.Jitter) {
        let policy = RetryPolicy(maxAttempts: 8, initialDelay: .milliseconds(100), maximumDelay: .seconds(3), jitter: jitter)
        for random in Self.randomFractions(100, seed: 42) {
            for attempt in 1...8 {
                #expect(policy.delay(afterAttempt: attempt, random: random) == policy.delay(afterAttempt: attempt, random: random))
            }
        }
        // A copy of the policy agrees with the original too.
        let copy = RetryPolicy(stored: policy.jsonValue)
        #expect(copy.delay(afterAttempt: 3, random: 0.25) == policy.delay(afterAttempt: 3, random: 0.25))
    }

    @Test func randomNumbersOutsideTheUnitRangeAreClamped() {
        let full = RetryPolicy(initialDelay: .seconds(2), maximumDelay: .seconds(2), jitter: .full)
        #expect(full.delay(afterAttempt: 1, random: -5) == .zero)
        #expect(full.delay(afterAttempt: 1, random: 7) == .seconds(2))
        let equal = RetryPolicy(initialDelay: .seconds(2), maximumDelay: .seconds(2), jitter: .equal)
        #expect(equal.delay(afterAttempt: 1, random: -1) == .seconds(1))
        #expect(equal.delay(afterAttempt: 1, random: 3) == .seconds(2))
    }

    // MARK: - Validation

    @Test func defaultAndNonePoliciesAreValid() throws {
        try RetryPolicy().validate()
        try RetryPolicy.none.validate()
        try RetryPolicy(maxAttempts: 1, initialDelay: .zero, multiplier: 1, maximumDelay: .zero).validate()
        #expect(RetryPolicy.none.maxAttempts == 1)
        #expect(RetryPolicy() == RetryPolicy(maxAttempts: 1, initialDelay: .seconds(1), multiplier: 2, maximumDelay: .seconds(60), jitter: .full))
    }

    static let invalidPolicies: [(String, RetryPolicy)] = [
        ("maxAttempts 0", RetryPolicy(maxAttempts: 0)),
        ("maxAttempts negative", RetryPolicy(maxAttempts: -2)),
        ("negative initial delay", RetryPolicy(initialDelay: .milliseconds(-1))),
        ("negative initial and maximum delay", RetryPolicy(initialDelay: .seconds(-2), maximumDelay: .seconds(-1))),
        ("initial delay above maximum", RetryPolicy(initialDelay: .seconds(10), maximumDelay: .seconds(5))),
        ("multiplier below one", RetryPolicy(multiplier: 0.5)),
        ("multiplier zero", RetryPolicy(multiplier: 0)),
        ("multiplier NaN", RetryPolicy(multiplier: .nan)),
        ("multiplier infinite", RetryPolicy(multiplier: .infinity)),
    ]

    @Test(arguments: invalidPolicies)
    func invalidPoliciesAreRefusedWithInvalidArgument(what: String, policy: RetryPolicy) {
        let error = #expect(throws: ActyError.self, "\(what)") { try policy.validate() }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("retry policy") == true, "the message names what is wrong: \(error?.message ?? "")")
    }

    // MARK: - Stored form

    @Test func storedFormUsesSecondsAndSnakeCaseKeys() {
        let policy = RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(250), multiplier: 1.5, maximumDelay: .seconds(90), jitter: .equal)
        #expect(
            policy.jsonValue == [
                "max_attempts": 4, "initial_delay": 0.25, "multiplier": 1.5, "maximum_delay": 90, "jitter": "equal",
            ]
        )
    }

    static let roundTripPolicies: [RetryPolicy] = [
        RetryPolicy(),
        .none,
        RetryPolicy(maxAttempts: 7, initialDelay: .milliseconds(250), multiplier: 3, maximumDelay: .seconds(45), jitter: .none),
        RetryPolicy(maxAttempts: 2, initialDelay: .zero, multiplier: 1, maximumDelay: .zero, jitter: .equal),
        RetryPolicy(maxAttempts: 1_000, initialDelay: .milliseconds(1500), multiplier: 1.25, maximumDelay: .seconds(3_600), jitter: .full),
    ]

    @Test(arguments: roundTripPolicies)
    func storedFormRoundTripsThroughJSONText(policy: RetryPolicy) throws {
        #expect(RetryPolicy(stored: policy.jsonValue) == policy)
        let text = policy.jsonValue.jsonString
        #expect(RetryPolicy(stored: try JSONValue(jsonString: text)) == policy, "through \(text)")
    }

    @Test func storedDelaysThatAreNotBinaryFractionsComeBackWithinANanosecond() throws {
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(100), multiplier: 2, maximumDelay: .milliseconds(700))
        let restored = RetryPolicy(stored: try JSONValue(jsonString: policy.jsonValue.jsonString))
        #expect(Self.close(restored.initialDelay, policy.initialDelay))
        #expect(Self.close(restored.maximumDelay, policy.maximumDelay))
        #expect(Self.close(restored.baseDelay(afterAttempt: 3), .milliseconds(400)))
    }

    @Test func missingStoredFieldsTakeTheirDefaults() {
        #expect(RetryPolicy(stored: [:]) == RetryPolicy())
        #expect(RetryPolicy(stored: .null) == RetryPolicy())
        let partial = RetryPolicy(stored: ["max_attempts": 5, "jitter": "none"])
        #expect(partial == RetryPolicy(maxAttempts: 5, jitter: .none))
        #expect(partial.initialDelay == .seconds(1))
        #expect(partial.multiplier == 2)
        #expect(partial.maximumDelay == .seconds(60))
    }

    @Test func storedFieldsOfTheWrongKindTakeTheirDefaults() {
        let odd = RetryPolicy(stored: ["max_attempts": 2.5, "initial_delay": "soon", "multiplier": true, "maximum_delay": [1], "jitter": "sideways"])
        #expect(odd == RetryPolicy())
    }

    @Test func policiesAreCodable() throws {
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(20), maximumDelay: .seconds(1), jitter: .none)
        let value = try JSONValue(encoding: policy)
        #expect(try value.decode(RetryPolicy.self) == policy)
    }
}
