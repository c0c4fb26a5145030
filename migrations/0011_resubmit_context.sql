-- Acty schema, version 11: what a result handler's resubmit changes of a job's context.
--
-- NULL: the job's attempts see their group's context and cache handle. Otherwise a JSON object the claim applies:
-- `"cache": false` runs them without the cache handle, `"group_context"` replaces the group's context (null drops
-- it). Set by each resubmit (`ResultAction.resubmit(…, context:)`), kept by retries and restarts.
ALTER TABLE jobs ADD COLUMN resubmit_context TEXT;
