-- Acty schema for PostgreSQL, version 5: result handlers (see SQLite's 0005).
ALTER TABLE groups ADD COLUMN result_handler TEXT COLLATE "C";
ALTER TABLE groups ADD COLUMN max_resubmits BIGINT NOT NULL DEFAULT 0 CHECK (max_resubmits >= 0);

ALTER TABLE jobs ADD COLUMN result_handler TEXT COLLATE "C";
ALTER TABLE jobs ADD COLUMN resubmits BIGINT NOT NULL DEFAULT 0 CHECK (resubmits >= 0);
ALTER TABLE jobs ADD COLUMN original_payload TEXT COLLATE "C";

ALTER TABLE workers ADD COLUMN result_handlers TEXT COLLATE "C";

-- Attempts gain the outcome `resubmitted`, with the handler's `reason` and the `payload` it resubmitted the job with.
-- PostgreSQL changes the CHECK in place; 0001 left it unnamed, so PostgreSQL named it attempts_outcome_check.
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome = 'succeeded' OR outcome = 'failed' OR outcome = 'timed_out'
           OR outcome = 'abandoned' OR outcome = 'cancelled' OR outcome = 'resubmitted');
ALTER TABLE attempts ADD COLUMN reason TEXT COLLATE "C";
ALTER TABLE attempts ADD COLUMN payload TEXT COLLATE "C";
