-- Acty schema, version 4: group dependencies.
--
-- A group may depend on other groups, named by key: it stays blocked (its jobs `blocked`, holding no worker) until
-- every dependency is resolved. One row per dependency of a dependent group. A dependency names the live group with
-- its key when there is one (`dependency_id` is set at submit), or the next group submitted with that key
-- (`dependency_id` stays NULL until that group is inserted); a key whose newest group has finished is resolved at
-- submit from that group's recorded outcome.
--
-- `state`: `waiting` until resolved; `done` when the dependency finished (`outcome` is its final group state);
-- `timed_out` when `due_at` (submission time + `timeout` seconds, wall clock) passed first; `dropped` when the
-- dependent group ended before (cancelled, or failed by another dependency). A `require_success` dependency that
-- is `timed_out`, or `done` with an outcome other than `succeeded`, fails the dependent group. `dependency_id` has
-- no foreign key: pruning old groups may remove the group a resolved row names, and a key would make every deleted
-- group search this table.
CREATE TABLE group_dependencies (
    group_id        INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    dependency_key  TEXT NOT NULL,
    dependency_id   INTEGER,
    policy          TEXT NOT NULL CHECK (policy = 'on_done' OR policy = 'require_success'),
    timeout         REAL CHECK (timeout IS NULL OR timeout > 0),
    due_at          REAL,
    state           TEXT NOT NULL
                    CHECK (state = 'waiting' OR state = 'done' OR state = 'timed_out' OR state = 'dropped'),
    outcome         TEXT CHECK (outcome IS NULL OR outcome = 'succeeded' OR outcome = 'failed' OR outcome = 'cancelled'),
    created_at      REAL NOT NULL,
    resolved_at     REAL,
    PRIMARY KEY (group_id, dependency_key)
) WITHOUT ROWID;
-- Who waits on group G: looked up when G finishes.
CREATE INDEX group_dependencies_waiting_group ON group_dependencies(dependency_id) WHERE state = 'waiting';
-- Who waits on a key no live group has yet: looked up when a group with that key is inserted.
CREATE INDEX group_dependencies_waiting_key ON group_dependencies(dependency_key)
    WHERE state = 'waiting' AND dependency_id IS NULL;
-- The earliest timeout: looked up by every claim, one index probe when nothing is due.
CREATE INDEX group_dependencies_due ON group_dependencies(due_at) WHERE state = 'waiting' AND due_at IS NOT NULL;

-- How many of a group's dependencies are still waiting: a group with any is blocked. Kept with the group so that
-- the rules reading a group row (releasing followers, admission) know without counting rows.
ALTER TABLE groups ADD COLUMN dependencies_waiting INTEGER NOT NULL DEFAULT 0 CHECK (dependencies_waiting >= 0);
