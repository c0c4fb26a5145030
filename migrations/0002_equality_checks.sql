-- Acty schema, version 2: the same tables, with CHECK constraints written as equality tests.
--
-- SQLite evaluates `x IN ('a', 'b', 'c')` (three or more constants) by building a temporary b-tree of the list,
-- once per statement execution. Every hot statement changes one row, so each insert and state change paid for
-- building that b-tree again: measured, the engine's row writes ran ~1.5× faster without it. `x = 'a' OR x = 'b'`
-- checks the same thing without the b-tree. SQLite cannot change a CHECK in place, so the four tables with such
-- lists are rebuilt (SQLite's documented procedure, https://www.sqlite.org/lang_altertable.html#otheralter: the
-- migrator runs it with foreign keys off and checks them before it commits). Keep new CHECK lists in this form.

CREATE TABLE groups_v2 (
    id               INTEGER PRIMARY KEY,
    key              TEXT NOT NULL,
    lane             TEXT NOT NULL,
    state            TEXT NOT NULL
                     CHECK (state = 'open' OR state = 'closed' OR state = 'succeeded' OR state = 'failed' OR state = 'cancelled'),
    primer_state     TEXT NOT NULL
                     CHECK (primer_state = 'none' OR primer_state = 'pending' OR primer_state = 'succeeded'
                            OR primer_state = 'failed' OR primer_state = 'skipped'),
    primer_policy    TEXT NOT NULL
                     CHECK (primer_policy = 'fail_group' OR primer_policy = 'skip_followers' OR primer_policy = 'run_followers'),
    follower_policy  TEXT NOT NULL CHECK (follower_policy = 'fail_group' OR follower_policy = 'continue_group'),
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
INSERT INTO groups_v2 (id, key, lane, state, primer_state, primer_policy, follower_policy, retry_policy, job_timeout,
    cache_key, cache_context, cache_ref, group_context, followers_total, jobs_total, jobs_finished, error, created_at,
    closed_at, finished_at)
SELECT id, key, lane, state, primer_state, primer_policy, follower_policy, retry_policy, job_timeout,
    cache_key, cache_context, cache_ref, group_context, followers_total, jobs_total, jobs_finished, error, created_at,
    closed_at, finished_at
FROM groups;
DROP TABLE groups;
ALTER TABLE groups_v2 RENAME TO groups;
CREATE UNIQUE INDEX groups_live_key ON groups(key) WHERE state IN ('open', 'closed');
CREATE INDEX groups_key ON groups(key, id);
CREATE INDEX groups_state ON groups(state, finished_at);

CREATE TABLE jobs_v2 (
    id              INTEGER PRIMARY KEY,
    group_id        INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role = 'primer' OR role = 'follower'),
    follower_index  INTEGER,
    executor        TEXT NOT NULL,
    lane            TEXT NOT NULL,
    state           TEXT NOT NULL
                    CHECK (state = 'blocked' OR state = 'ready' OR state = 'scheduled' OR state = 'running'
                           OR state = 'succeeded' OR state = 'failed' OR state = 'cancelled'),
    priority        INTEGER NOT NULL DEFAULT 0,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    run_at          REAL,
    lease_owner     TEXT,
    lease_until     REAL,
    pool            TEXT CHECK (pool IS NULL OR pool = 'primer' OR pool = 'follower'),
    result          TEXT,
    error           TEXT,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL
);
INSERT INTO jobs_v2 (id, group_id, role, follower_index, executor, lane, state, priority, payload, attempts,
    max_attempts, run_at, lease_owner, lease_until, pool, result, error, created_at, started_at, finished_at)
SELECT id, group_id, role, follower_index, executor, lane, state, priority, payload, attempts,
    max_attempts, run_at, lease_owner, lease_until, pool, result, error, created_at, started_at, finished_at
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
-- The claim: `WHERE state = 'ready' AND role = ? AND lane = ? ORDER BY priority DESC, id`. The column order
-- must match that ORDER BY exactly, or SQLite sorts the whole backlog on every claim.
CREATE INDEX jobs_ready ON jobs(role, lane, priority DESC, id) WHERE state = 'ready';
CREATE INDEX jobs_scheduled ON jobs(run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_running ON jobs(lease_until) WHERE state = 'running';
CREATE INDEX jobs_group ON jobs(group_id, role DESC, follower_index);

CREATE TABLE attempts_v2 (
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    worker       TEXT NOT NULL,
    pool         TEXT NOT NULL CHECK (pool = 'primer' OR pool = 'follower'),
    started_at   REAL NOT NULL,
    finished_at  REAL,
    outcome      TEXT CHECK (outcome = 'succeeded' OR outcome = 'failed' OR outcome = 'timed_out'
                             OR outcome = 'abandoned' OR outcome = 'cancelled'),
    error        TEXT,
    duration     REAL,
    PRIMARY KEY (job_id, number)
) WITHOUT ROWID;
INSERT INTO attempts_v2 (job_id, number, worker, pool, started_at, finished_at, outcome, error, duration)
SELECT job_id, number, worker, pool, started_at, finished_at, outcome, error, duration FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_v2 RENAME TO attempts;

CREATE TABLE cache_entries_v2 (
    key           TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    provider_ref  TEXT,
    state         TEXT NOT NULL CHECK (state = 'creating' OR state = 'ready' OR state = 'invalid'),
    owner         TEXT,
    lease_until   REAL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    expires_at    REAL,
    hits          INTEGER NOT NULL DEFAULT 0
);
INSERT INTO cache_entries_v2 (key, provider, fingerprint, provider_ref, state, owner, lease_until, created_at,
    updated_at, expires_at, hits)
SELECT key, provider, fingerprint, provider_ref, state, owner, lease_until, created_at, updated_at, expires_at, hits
FROM cache_entries;
DROP TABLE cache_entries;
ALTER TABLE cache_entries_v2 RENAME TO cache_entries;
