-- Acty schema, version 10: rate limits.
--
-- One row per budget (`EngineConfiguration.rateLimits`): the jobs of `executor`, in `lane` or in every lane (''),
-- with its configuration and its state. Claims read and update it inside their write transaction, so every engine on
-- the file spends the same budget. `requests` is a token bucket of job starts, `tokens` what attempts may still report
-- (debited when they finish), `slowdown` the share of the budget in force after a provider refused for load (eased
-- back at `slow_until`), `paused_until` a provider's Retry-After. `throttled` is set while the budget holds jobs back,
-- so that the claim that finds it open again looks at every lane.
CREATE TABLE rate_limits (
    executor            TEXT NOT NULL,
    lane                TEXT NOT NULL,
    requests_per_minute REAL,
    tokens_per_minute   REAL,
    max_inflight        INTEGER,
    burst               INTEGER,
    cooldown            REAL NOT NULL,
    requests            REAL NOT NULL,
    tokens              REAL NOT NULL,
    refilled_at         REAL NOT NULL,
    slowdown            REAL NOT NULL,
    slow_until          REAL,
    paused_until        REAL,
    throttled           INTEGER NOT NULL CHECK (throttled = 0 OR throttled = 1),
    updated_at          REAL NOT NULL,
    PRIMARY KEY (executor, lane)
) WITHOUT ROWID;
