-- Acty schema for PostgreSQL, version 10: rate limits (see SQLite's 0010).
CREATE TABLE rate_limits (
    executor            TEXT COLLATE "C" NOT NULL,
    lane                TEXT COLLATE "C" NOT NULL,
    requests_per_minute DOUBLE PRECISION,
    tokens_per_minute   DOUBLE PRECISION,
    max_inflight        BIGINT,
    burst               BIGINT,
    cooldown            DOUBLE PRECISION NOT NULL,
    requests            DOUBLE PRECISION NOT NULL,
    tokens              DOUBLE PRECISION NOT NULL,
    refilled_at         DOUBLE PRECISION NOT NULL,
    slowdown            DOUBLE PRECISION NOT NULL,
    slow_until          DOUBLE PRECISION,
    paused_until        DOUBLE PRECISION,
    throttled           BIGINT NOT NULL CHECK (throttled = 0 OR throttled = 1),
    updated_at          DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (executor, lane)
);
