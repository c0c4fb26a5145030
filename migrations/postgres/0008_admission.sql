-- Acty schema for PostgreSQL, version 8: admission (see SQLite's 0008).
ALTER TABLE groups ADD COLUMN admission TEXT COLLATE "C" CHECK (admission = 'pending' OR admission = 'admitted' OR admission = 'retired');
CREATE INDEX groups_admission_pending ON groups(dependencies_waiting, id) WHERE admission = 'pending';
CREATE INDEX groups_admission_active ON groups(id) WHERE admission = 'admitted';
-- One row, always id 1: a plain key, not an identity column (SQLite's `INTEGER PRIMARY KEY CHECK (id = 1)`).
CREATE TABLE admission_state (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    pending     BIGINT NOT NULL DEFAULT 0 CHECK (pending >= 0),
    bursting    BIGINT CHECK (bursting = 0 OR bursting = 1),
    cap         BIGINT CHECK (cap >= 1),
    changed_at  DOUBLE PRECISION
);
