-- Acty schema for PostgreSQL, version 9: token usage (see SQLite's 0009).
ALTER TABLE attempts ADD COLUMN prompt_tokens BIGINT;
ALTER TABLE attempts ADD COLUMN completion_tokens BIGINT;
ALTER TABLE attempts ADD COLUMN cached_prompt_tokens BIGINT;
