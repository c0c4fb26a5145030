-- Acty schema for PostgreSQL, version 4: group dependencies (see SQLite's 0004).
CREATE TABLE group_dependencies (
    group_id        BIGINT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    dependency_key  TEXT COLLATE "C" NOT NULL,
    dependency_id   BIGINT,
    policy          TEXT COLLATE "C" NOT NULL CHECK (policy = 'on_done' OR policy = 'require_success'),
    timeout         DOUBLE PRECISION CHECK (timeout IS NULL OR timeout > 0),
    due_at          DOUBLE PRECISION,
    state           TEXT COLLATE "C" NOT NULL
                    CHECK (state = 'waiting' OR state = 'done' OR state = 'timed_out' OR state = 'dropped'),
    outcome         TEXT COLLATE "C" CHECK (outcome IS NULL OR outcome = 'succeeded' OR outcome = 'failed' OR outcome = 'cancelled'),
    created_at      DOUBLE PRECISION NOT NULL,
    resolved_at     DOUBLE PRECISION,
    PRIMARY KEY (group_id, dependency_key)
);
CREATE INDEX group_dependencies_waiting_group ON group_dependencies(dependency_id) WHERE state = 'waiting';
CREATE INDEX group_dependencies_waiting_key ON group_dependencies(dependency_key)
    WHERE state = 'waiting' AND dependency_id IS NULL;
CREATE INDEX group_dependencies_due ON group_dependencies(due_at) WHERE state = 'waiting' AND due_at IS NOT NULL;

ALTER TABLE groups ADD COLUMN dependencies_waiting BIGINT NOT NULL DEFAULT 0 CHECK (dependencies_waiting >= 0);
