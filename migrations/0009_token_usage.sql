-- Acty schema, version 9: token usage.
--
-- The tokens an attempt used, as its executor reported them (`Job.recordUsage`): NULL when it reported none.
-- `acty-query tokens` sums them by lane, group and executor through the job.
ALTER TABLE attempts ADD COLUMN prompt_tokens INTEGER;
ALTER TABLE attempts ADD COLUMN completion_tokens INTEGER;
ALTER TABLE attempts ADD COLUMN cached_prompt_tokens INTEGER;
