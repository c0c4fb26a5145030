/// A budget for the jobs of one executor (optionally in one lane): requests per minute, tokens per minute and jobs
/// running at once, shared by every engine on the file.
///
/// The engine applies it before it claims a job: a job over budget stays `ready`, holds no worker, and is claimed once
/// the budget allows. The budget's state lives in the database (`rate_limits`), and every claim reads and updates it
/// in its write transaction, so engines sharing a file share one budget.
///
/// - Requests: a token bucket holding up to `burst` requests (default one second's worth, at least 1), refilled at
///   `requestsPerMinute / 60` per second. Over any `t` seconds at most `burst + requestsPerMinute × t / 60` jobs start.
/// - Tokens: attempts debit the tokens they report (``Job/recordUsage(_:)``) when they finish; while the budget is
///   spent, no job of the executor starts. It refills at `tokensPerMinute / 60` per second, up to a minute's worth.
/// - Running jobs: at most `maxInflight` at once, across every engine.
///
/// A provider's refusal for load (an executor throwing ``RetryAfterError`` with `isRateLimit: true`) pauses the
/// executor until its `Retry-After` and halves the budget for `cooldown`; each calm `cooldown` after that doubles it
/// back, until it is whole again. `rate_limited` and `rate_limit_restored` events record both.
///
/// ```swift
/// EngineConfiguration(rateLimits: [RateLimit(executor: "openai", requestsPerMinute: 500, tokensPerMinute: 200_000, maxInflight: 32)])
/// ```
public struct RateLimit: Sendable, Hashable {
    /// The executor whose jobs the budget covers.
    public var executor: String
    /// The lane it is limited to, or `nil` for the executor's jobs in every lane.
    public var lane: String?
    /// Jobs that may start per minute.
    public var requestsPerMinute: Double?
    /// Tokens the executor's attempts may report per minute.
    public var tokensPerMinute: Double?
    /// Jobs that may run at once.
    public var maxInflight: Int?
    /// Jobs that may start at once after a quiet spell; default one second's worth of `requestsPerMinute`.
    public var burst: Int?
    /// How long a provider's refusal for load halves the budget.
    public var cooldown: Duration

    /// Creates a budget; give at least one of `requestsPerMinute`, `tokensPerMinute` and `maxInflight`.
    public init(
        executor: String, lane: String? = nil, requestsPerMinute: Double? = nil, tokensPerMinute: Double? = nil, maxInflight: Int? = nil,
        burst: Int? = nil, cooldown: Duration = .seconds(60)
    ) {
        self.executor = executor
        self.lane = lane
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.maxInflight = maxInflight
        self.burst = burst
        self.cooldown = cooldown
    }

    /// Why the limit cannot be applied, or `nil` when it can.
    package var problem: String? {
        if executor.isEmpty { return "a rate limit needs an executor name" }
        if requestsPerMinute == nil && tokensPerMinute == nil && maxInflight == nil {
            return "the rate limit of '\(executor)' sets none of requestsPerMinute, tokensPerMinute and maxInflight"
        }
        if let rpm = requestsPerMinute, !(rpm > 0 && rpm.isFinite) { return "requestsPerMinute of '\(executor)' must be positive" }
        if let tpm = tokensPerMinute, !(tpm > 0 && tpm.isFinite) { return "tokensPerMinute of '\(executor)' must be positive" }
        if let inflight = maxInflight, inflight < 1 { return "maxInflight of '\(executor)' must be at least 1" }
        if let burst, burst < 1 { return "burst of '\(executor)' must be at least 1" }
        if cooldown <= .zero { return "cooldown of '\(executor)' must be positive" }
        return nil
    }

    /// Whether the budget covers the jobs of `executor` in `lane`.
    package func covers(executor: String, lane: String) -> Bool {
        self.executor == executor && (self.lane == nil || self.lane == lane)
    }

    /// The bucket size for requests.
    package var requestCapacity: Double? {
        requestsPerMinute.map { rpm in Double(burst ?? max(1, Int((rpm / 60).rounded(.up)))) }
    }
}

/// A rate limit's budget as stored, and the arithmetic of spending and refilling it. Pure: the store loads it,
/// applies it inside a claim's transaction, and writes it back.
package struct RateBudget: Sendable, Hashable {
    package var limit: RateLimit
    /// Requests left in the bucket (fractional while refilling).
    package var requests: Double
    /// Tokens left; negative when attempts reported more than was left.
    package var tokens: Double
    /// When `requests` and `tokens` were last refilled.
    package var refilledAt: Double
    /// The share of the configured budget in force: 1, or less after a provider's refusal.
    package var slowdown: Double
    /// When the slowdown next eases (doubles back).
    package var slowUntil: Double?
    /// No job starts before this time (a provider's `Retry-After`).
    package var pausedUntil: Double?
    /// Jobs of the budget running now, across every engine.
    package var running: Int

    /// A budget at its full size.
    package init(limit: RateLimit, now: Double) {
        self.limit = limit
        requests = limit.requestCapacity ?? 0
        tokens = limit.tokensPerMinute ?? 0
        refilledAt = now
        slowdown = 1
        running = 0
    }

    package init(
        limit: RateLimit, requests: Double, tokens: Double, refilledAt: Double, slowdown: Double, slowUntil: Double?, pausedUntil: Double?,
        running: Int
    ) {
        self.limit = limit
        self.requests = requests
        self.tokens = tokens
        self.refilledAt = refilledAt
        self.slowdown = slowdown
        self.slowUntil = slowUntil
        self.pausedUntil = pausedUntil
        self.running = running
    }

    /// The smallest share a run of refusals can lower a budget to.
    package static let minimumSlowdown = 1.0 / 64

    private var requestRate: Double? { limit.requestsPerMinute.map { $0 * slowdown / 60 } }
    private var requestCapacity: Double? { limit.requestCapacity.map { max(1, $0 * slowdown) } }
    private var tokenRate: Double? { limit.tokensPerMinute.map { $0 * slowdown / 60 } }
    private var tokenCapacity: Double? { limit.tokensPerMinute.map { $0 * slowdown } }
    private var inflightCap: Int? { limit.maxInflight.map { max(1, Int((Double($0) * slowdown).rounded(.down))) } }

    /// Brings the budget to `now`: eases a slowdown whose cooldown passed (returns `true` when that made it whole
    /// again), and refills requests and tokens for the time since the last refill.
    @discardableResult
    package mutating func refill(now: Double) -> Bool {
        var restored = false
        while slowdown < 1, let until = slowUntil, until <= now {
            slowdown = min(1, slowdown * 2)
            slowUntil = slowdown < 1 ? until + limit.cooldown.seconds : nil
            restored = slowdown == 1
        }
        let elapsed = max(0, now - refilledAt)
        if let rate = requestRate, let capacity = requestCapacity { requests = min(capacity, requests + elapsed * rate) }
        if let rate = tokenRate, let capacity = tokenCapacity { tokens = min(capacity, tokens + elapsed * rate) }
        refilledAt = max(refilledAt, now)
        return restored
    }

    /// How many more jobs may start now.
    package func allowance(now: Double) -> Int {
        if let pausedUntil, pausedUntil > now { return 0 }
        var allowed = Int.max
        if requestRate != nil { allowed = min(allowed, Int(requests.rounded(.down))) }
        if tokenRate != nil, tokens <= 0 { allowed = 0 }
        if let cap = inflightCap { allowed = min(allowed, cap - running) }
        return max(0, allowed)
    }

    /// A job starts.
    package mutating func take() {
        if requestRate != nil { requests -= 1 }
        running += 1
    }

    /// When the budget allows a job again without any job finishing: `nil` when only running jobs hold it (their
    /// completions trigger the next claim) or when it allows one now.
    package func nextAllowed(now: Double) -> Double? {
        guard allowance(now: now) == 0 else { return nil }
        var at = now
        var waitsForTime = false
        if let pausedUntil, pausedUntil > now {
            at = pausedUntil
            waitsForTime = true
        }
        if let rate = requestRate, rate > 0, requests < 1 {
            at = max(at, now + (1 - requests) / rate)
            waitsForTime = true
        }
        if let rate = tokenRate, rate > 0, tokens <= 0 {
            at = max(at, now + (1 - tokens) / rate)
            waitsForTime = true
        }
        if let cap = inflightCap, running >= cap { return nil }
        return waitsForTime ? at : nil
    }

    /// A provider refused a call for load: nothing starts before `retryAfter` seconds from `now`, and the budget is
    /// halved for a cooldown.
    package mutating func lower(retryAfter: Double, now: Double) {
        slowdown = max(Self.minimumSlowdown, slowdown / 2)
        slowUntil = now + limit.cooldown.seconds
        pausedUntil = max(pausedUntil ?? 0, now + max(0, retryAfter))
        if let capacity = requestCapacity { requests = min(requests, capacity, 0) }
    }
}
