-- Acty schema for PostgreSQL, version 11: what a result handler's resubmit changes of a job's context (see SQLite's 0011).
ALTER TABLE jobs ADD COLUMN resubmit_context TEXT COLLATE "C";
