-- Acty schema, version 3: abandoned attempts have their own budget.
--
-- An attempt is abandoned when its process dies (SIGKILL, a crash, a lost machine) and another process rescues the
-- job. That is not the job's failure, so it must not use up the retry budget (`max_attempts`): `attempts` still
-- counts every attempt started, `abandoned` counts those that were abandoned, and the retry budget compares
-- `attempts - abandoned` with `max_attempts`. A job that is abandoned `max_abandoned` times is not run again but
-- fails: it may be what crashes its process (a "poison pill"). `max_abandoned` is stamped on each job at submit,
-- from the submitting engine's `maxAbandonedAttempts`, as `max_attempts` is, so whichever process rescues the job
-- applies the same bound.
ALTER TABLE jobs ADD COLUMN abandoned INTEGER NOT NULL DEFAULT 0 CHECK (abandoned >= 0);
ALTER TABLE jobs ADD COLUMN max_abandoned INTEGER NOT NULL DEFAULT 3 CHECK (max_abandoned >= 1);

-- Jobs rescued before this migration: count their abandoned attempts, so they keep the budget they had.
UPDATE jobs SET abandoned = (SELECT COUNT(*) FROM attempts WHERE attempts.job_id = jobs.id AND attempts.outcome = 'abandoned')
WHERE id IN (SELECT job_id FROM attempts WHERE outcome = 'abandoned');
