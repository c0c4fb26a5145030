-- Acty schema for PostgreSQL, version 3: abandoned attempts have their own budget (see SQLite's 0003).
ALTER TABLE jobs ADD COLUMN abandoned BIGINT NOT NULL DEFAULT 0 CHECK (abandoned >= 0);
ALTER TABLE jobs ADD COLUMN max_abandoned BIGINT NOT NULL DEFAULT 3 CHECK (max_abandoned >= 1);

UPDATE jobs SET abandoned = (SELECT COUNT(*) FROM attempts WHERE attempts.job_id = jobs.id AND attempts.outcome = 'abandoned')
WHERE id IN (SELECT job_id FROM attempts WHERE outcome = 'abandoned');
