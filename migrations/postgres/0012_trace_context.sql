-- Acty schema for PostgreSQL, version 12: trace context (see SQLite's 0012).
ALTER TABLE groups ADD COLUMN trace_context TEXT COLLATE "C";
