-- Acty schema for PostgreSQL, version 7: follower dispatch per group (see SQLite's 0007).
ALTER TABLE groups ADD COLUMN followers_warmup DOUBLE PRECISION CHECK (followers_warmup IS NULL OR followers_warmup >= 0);
ALTER TABLE groups ADD COLUMN warm_until DOUBLE PRECISION;
ALTER TABLE groups ADD COLUMN max_followers_inflight BIGINT CHECK (max_followers_inflight IS NULL OR max_followers_inflight >= 1);
ALTER TABLE groups ADD COLUMN followers_released_through BIGINT NOT NULL DEFAULT -1;
