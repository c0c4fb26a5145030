-- Acty schema, version 5: result handlers.
--
-- A result handler runs after an executor returns and accepts the output, replaces it, fails the job, or resubmits
-- the job with a new payload. Handlers are found by name, like executors: a group stores its handler's name, and
-- each of its jobs carries it too, so a claim keeps to jobs whose handler the claiming process has (the claim reads
-- only the job row). `max_resubmits` is the group's budget of resubmits per job, stamped at submit from the
-- submitting engine's `maxResultHandlerAttempts`, as `max_attempts` is.
ALTER TABLE groups ADD COLUMN result_handler TEXT;
ALTER TABLE groups ADD COLUMN max_resubmits INTEGER NOT NULL DEFAULT 0 CHECK (max_resubmits >= 0);

-- A resubmit is a new attempt of the same job: `attempts` counts it, `resubmits` counts the resubmitted attempts
-- (they do not use up the retry budget: that compares `attempts - abandoned - resubmits` with `max_attempts`).
-- `payload` is the payload the next attempt runs with; `original_payload` keeps the submitted one once a resubmit
-- has replaced it (NULL while the job was never resubmitted).
ALTER TABLE jobs ADD COLUMN result_handler TEXT;
ALTER TABLE jobs ADD COLUMN resubmits INTEGER NOT NULL DEFAULT 0 CHECK (resubmits >= 0);
ALTER TABLE jobs ADD COLUMN original_payload TEXT;

-- The result handlers each engine process has, as a JSON array of names (NULL for processes of older builds).
ALTER TABLE workers ADD COLUMN result_handlers TEXT;

-- Attempts gain the outcome `resubmitted`, with the handler's `reason` and the `payload` it resubmitted the job with.
-- SQLite cannot change a CHECK in place, so the table is rebuilt (as in 0002, with CHECK lists as equality tests).
CREATE TABLE attempts_v5 (
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    worker       TEXT NOT NULL,
    pool         TEXT NOT NULL CHECK (pool = 'primer' OR pool = 'follower'),
    started_at   REAL NOT NULL,
    finished_at  REAL,
    outcome      TEXT CHECK (outcome = 'succeeded' OR outcome = 'failed' OR outcome = 'timed_out'
                             OR outcome = 'abandoned' OR outcome = 'cancelled' OR outcome = 'resubmitted'),
    error        TEXT,
    duration     REAL,
    reason       TEXT,
    payload      TEXT,
    PRIMARY KEY (job_id, number)
) WITHOUT ROWID;
INSERT INTO attempts_v5 (job_id, number, worker, pool, started_at, finished_at, outcome, error, duration)
SELECT job_id, number, worker, pool, started_at, finished_at, outcome, error, duration FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_v5 RENAME TO attempts;
