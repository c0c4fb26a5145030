-- Acty schema, version 1. Times are Unix epoch seconds (REAL); JSON columns hold compact JSON text.
-- Never edit this file once it has landed: schema changes go into a new numbered file.

-- Lanes share the workers by weight. `paused` lanes are not claimed from.
CREATE TABLE lanes (
    name         TEXT PRIMARY KEY,
    weight       REAL NOT NULL DEFAULT 1 CHECK (weight > 0),
    max_inflight INTEGER CHECK (max_inflight IS NULL OR max_inflight > 0),
    paused       INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);

-- A group: one primer and its followers. `key` is unique among live (open or closed) groups and may be reused
-- once a group has finished. `jobs_total`/`jobs_finished` count jobs so completion is O(1) at any group size.
-- `retry_policy` (JSON) and `job_timeout` (seconds) apply to the group's jobs. `cache_ref` is the provider
-- reference of the cache entry the group's primer ran with: every job of the group sees it.
CREATE TABLE groups (
    id               INTEGER PRIMARY KEY,
    key              TEXT NOT NULL,
    lane             TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('open', 'closed', 'succeeded', 'failed', 'cancelled')),
    primer_state     TEXT NOT NULL CHECK (primer_state IN ('none', 'pending', 'succeeded', 'failed', 'skipped')),
    primer_policy    TEXT NOT NULL CHECK (primer_policy IN ('fail_group', 'skip_followers', 'run_followers')),
    follower_policy  TEXT NOT NULL CHECK (follower_policy IN ('fail_group', 'continue_group')),
    retry_policy     TEXT,
    job_timeout      REAL,
    cache_key        TEXT,
    cache_context    TEXT,
    cache_ref        TEXT,
    group_context    TEXT,
    followers_total  INTEGER NOT NULL DEFAULT 0,
    jobs_total       INTEGER NOT NULL DEFAULT 0,
    jobs_finished    INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    created_at       REAL NOT NULL,
    closed_at        REAL,
    finished_at      REAL
);
CREATE UNIQUE INDEX groups_live_key ON groups(key) WHERE state IN ('open', 'closed');
CREATE INDEX groups_key ON groups(key, id);
CREATE INDEX groups_state ON groups(state, finished_at);

-- A job. Followers start `blocked` until their primer succeeds. `attempts` counts started attempts; a claim
-- leases the job to `lease_owner` (a worker id) until `lease_until`, for a worker of `pool`. A failed attempt with
-- attempts left waits in `scheduled` until `run_at`.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    group_id        INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('primer', 'follower')),
    follower_index  INTEGER,
    executor        TEXT NOT NULL,
    lane            TEXT NOT NULL,
    state           TEXT NOT NULL
                    CHECK (state IN ('blocked', 'ready', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled')),
    priority        INTEGER NOT NULL DEFAULT 0,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    run_at          REAL,
    lease_owner     TEXT,
    lease_until     REAL,
    pool            TEXT CHECK (pool IS NULL OR pool IN ('primer', 'follower')),
    result          TEXT,
    error           TEXT,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL
);
-- The claim: `WHERE state = 'ready' AND role = ? AND lane = ? ORDER BY priority DESC, id`. The column order
-- must match that ORDER BY exactly, or SQLite sorts the whole backlog on every claim.
CREATE INDEX jobs_ready ON jobs(role, lane, priority DESC, id) WHERE state = 'ready';
CREATE INDEX jobs_scheduled ON jobs(run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_running ON jobs(lease_until) WHERE state = 'running';
CREATE INDEX jobs_group ON jobs(group_id, role DESC, follower_index);

-- One row per finished attempt, written when it ends; a running attempt is its job row (state 'running').
CREATE TABLE attempts (
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    worker       TEXT NOT NULL,
    pool         TEXT NOT NULL CHECK (pool IN ('primer', 'follower')),
    started_at   REAL NOT NULL,
    finished_at  REAL,
    outcome      TEXT CHECK (outcome IN ('succeeded', 'failed', 'timed_out', 'abandoned', 'cancelled')),
    error        TEXT,
    duration     REAL,
    PRIMARY KEY (job_id, number)
) WITHOUT ROWID;

-- Cache and provider-session handles shared by the jobs of groups with the same cache key.
CREATE TABLE cache_entries (
    key           TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    provider_ref  TEXT,
    state         TEXT NOT NULL CHECK (state IN ('creating', 'ready', 'invalid')),
    owner         TEXT,
    lease_until   REAL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    expires_at    REAL,
    hits          INTEGER NOT NULL DEFAULT 0
);

-- The event log, written in the same transaction as the change each event describes. `seq` orders all events.
CREATE TABLE events (
    seq       INTEGER PRIMARY KEY,
    at        REAL NOT NULL,
    type      TEXT NOT NULL,
    group_id  INTEGER,
    job_id    INTEGER,
    lane      TEXT,
    worker    TEXT,
    data      TEXT
);

-- Engine processes working on this file. A process that stops heartbeating is marked stopped with reason 'lost'.
CREATE TABLE workers (
    id                TEXT PRIMARY KEY,
    pid               INTEGER NOT NULL,
    host              TEXT NOT NULL,
    started_at        REAL NOT NULL,
    heartbeat_at      REAL NOT NULL,
    stopped_at        REAL,
    stop_reason       TEXT CHECK (stop_reason IS NULL OR stop_reason IN ('shutdown', 'lost')),
    primer_workers    INTEGER NOT NULL,
    follower_workers  INTEGER NOT NULL,
    executors         TEXT NOT NULL
);
