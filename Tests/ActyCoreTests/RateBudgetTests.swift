@testable import ActyCore
import Testing

/// The arithmetic of a rate limit's budget: buckets, caps, a provider's refusal and the recovery after it.
struct RateBudgetTests {
    @Test func requestsStartAsABurstAndRefillAtTheRate() {
        var budget = RateBudget(limit: RateLimit(executor: "llm", requestsPerMinute: 120, burst: 3), now: 100)
        #expect(budget.allowance(now: 100) == 3)
        for _ in 0..<3 { budget.take() }
        #expect(budget.allowance(now: 100) == 0)
        #expect(budget.nextAllowed(now: 100) == 100.5)  // 2 per second
        budget.refill(now: 101)
        #expect(budget.allowance(now: 101) == 2)
        budget.refill(now: 1_000)
        #expect(budget.allowance(now: 1_000) == 3, "the bucket holds the burst at most")
    }

    @Test func theDefaultBurstIsOneSecondsWorthAndAtLeastOne() {
        #expect(RateLimit(executor: "a", requestsPerMinute: 600).requestCapacity == 10)
        #expect(RateLimit(executor: "a", requestsPerMinute: 30).requestCapacity == 1)
        #expect(RateLimit(executor: "a", maxInflight: 2).requestCapacity == nil)
    }

    @Test func runningJobsCountAgainstMaxInflightAndHoldNoTimer() {
        var budget = RateBudget(limit: RateLimit(executor: "llm", maxInflight: 2), now: 0)
        budget.running = 1
        #expect(budget.allowance(now: 0) == 1)
        budget.take()
        #expect(budget.allowance(now: 0) == 0)
        #expect(budget.nextAllowed(now: 0) == nil, "a finishing job reopens it, not the clock")
    }

    @Test func spentTokensHoldJobsUntilTheBudgetIsPositiveAgain() {
        var budget = RateBudget(limit: RateLimit(executor: "llm", tokensPerMinute: 600), now: 0)
        #expect(budget.allowance(now: 0) == Int.max)
        budget.tokens -= 605  // an attempt reported more than was left
        #expect(budget.allowance(now: 0) == 0)
        #expect(budget.nextAllowed(now: 0) == 0.6)  // (5 + 1) tokens at 10 per second
        budget.refill(now: 0.6)
        #expect(budget.allowance(now: 0.6) > 0)
    }

    @Test func aRefusalPausesUntilRetryAfterHalvesAndEasesBackEachCooldown() {
        var budget = RateBudget(limit: RateLimit(executor: "llm", requestsPerMinute: 600, maxInflight: 8, cooldown: .seconds(10)), now: 0)
        budget.lower(retryAfter: 2, now: 0)
        #expect(budget.slowdown == 0.5)
        #expect(budget.allowance(now: 1) == 0)
        #expect(budget.nextAllowed(now: 1) == 2)
        budget.refill(now: 3)
        #expect(budget.requests == 5, "the bucket holds half the burst and refills at half the rate")
        #expect(budget.allowance(now: 3) == 4, "half of maxInflight")
        budget.lower(retryAfter: 0, now: 3)
        #expect(budget.slowdown == 0.25)
        #expect(budget.refill(now: 12) == false)
        #expect(budget.slowdown == 0.25, "within the cooldown")
        #expect(budget.refill(now: 13) == false)  // one cooldown: back to a half
        #expect(budget.slowdown == 0.5)
        #expect(budget.refill(now: 23) == true)  // two: whole again
        #expect(budget.slowdown == 1)
        #expect(budget.slowUntil == nil)
    }

    @Test func limitsThatCannotWorkAreRefused() {
        #expect(RateLimit(executor: "a").problem?.contains("sets none") == true)
        #expect(RateLimit(executor: "a", requestsPerMinute: 0).problem?.contains("positive") == true)
        #expect(RateLimit(executor: "a", maxInflight: 0).problem?.contains("at least 1") == true)
        #expect(RateLimit(executor: "", maxInflight: 1).problem != nil)
        #expect(RateLimit(executor: "a", requestsPerMinute: 60, burst: 2).problem == nil)
    }
}
