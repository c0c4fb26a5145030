#!/usr/bin/env bash
# Checks what a database and its execution log say after acty-test-worker processes ran on them, killed or not
# (Tools/killloop.sh, Tools/soak.sh). Prints one `name=value` line per count and exits 1 when an invariant is broken:
#   not_succeeded, failed, failed_by_kills, recorded_twice, succeeded_without_one_success, followers_early,
#   attempts_run_twice, successes_not_executed must all be 0.
#   Tools/check-run.sh <database> <execution log>
set -euo pipefail
db="$1"
log="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The log's complete lines (`job attempt pid time`) as CSV; a last line torn by a kill has fewer fields.
awk 'NF == 4 { print $1 "," $2 "," $3 }' "$log" > "$work/executions.csv"
# A copy, so the checks never write to the run's file.
sqlite3 "$db" ".backup '$work/run.db'"

counts="$(sqlite3 -batch "$work/run.db" <<SQL
CREATE TABLE executions (job INTEGER, attempt INTEGER, pid INTEGER);
.import --csv $work/executions.csv executions
CREATE INDEX executions_attempt ON executions(job, attempt);
.mode list
.separator =
SELECT 'jobs', COUNT(*) FROM jobs;
SELECT 'groups_not_succeeded', COUNT(*) FROM groups WHERE state != 'succeeded';
-- Every job terminal and succeeded: none lost, none failed.
SELECT 'not_succeeded', COUNT(*) FROM jobs WHERE state != 'succeeded';
SELECT 'failed', COUNT(*) FROM jobs WHERE state = 'failed';
-- A failed job must have used its whole retry budget with attempts that were not abandoned.
SELECT 'failed_by_kills', COUNT(*) FROM jobs
WHERE state = 'failed' AND (SELECT COUNT(*) FROM attempts WHERE job_id = jobs.id AND outcome != 'abandoned') < max_attempts;
-- Exactly one succeeded attempt per succeeded job.
SELECT 'recorded_twice', COUNT(*) FROM (SELECT job_id FROM attempts WHERE outcome = 'succeeded' GROUP BY job_id HAVING COUNT(*) > 1);
SELECT 'succeeded_without_one_success', COUNT(*) FROM jobs
WHERE state = 'succeeded' AND (SELECT COUNT(*) FROM attempts WHERE job_id = jobs.id AND outcome = 'succeeded') != 1;
-- No follower's first attempt started before its primer's successful attempt finished.
SELECT 'followers_early', COUNT(*) FROM jobs AS follower JOIN jobs AS primer ON primer.group_id = follower.group_id AND primer.role = 'primer'
WHERE follower.role = 'follower'
    AND (SELECT MIN(started_at) FROM attempts WHERE job_id = follower.id)
        < COALESCE((SELECT finished_at FROM attempts WHERE job_id = primer.id AND outcome = 'succeeded'), 1e300);
-- The execution log against the attempt rows: no attempt ran twice, every success was executed.
SELECT 'attempts_run_twice', COUNT(*) FROM (SELECT 1 FROM executions GROUP BY job, attempt HAVING COUNT(*) > 1);
SELECT 'successes_not_executed', COUNT(*) FROM attempts AS a
WHERE outcome = 'succeeded' AND NOT EXISTS (SELECT 1 FROM executions AS e WHERE e.job = a.job_id AND e.attempt = a.number);
SELECT 'executions', COUNT(*) FROM executions;
SELECT 'failed_attempts', COUNT(*) FROM attempts WHERE outcome = 'failed';
SELECT 'abandoned_attempts', COUNT(*) FROM attempts WHERE outcome = 'abandoned';
SELECT 'jobs_abandoned_at_least_once', COUNT(*) FROM jobs WHERE abandoned > 0;
SELECT 'most_abandoned_attempts_of_a_job', COALESCE(MAX(abandoned), 0) FROM jobs;
SELECT 'workers_lost', COUNT(*) FROM workers WHERE stop_reason = 'lost';
SQL
)"
echo "$counts"
status=0
for name in not_succeeded failed failed_by_kills recorded_twice succeeded_without_one_success followers_early \
    attempts_run_twice successes_not_executed; do
    value="$(grep "^$name=" <<<"$counts" | cut -d= -f2)"
    if [ "$value" != 0 ]; then
        echo "BROKEN: $name=$value" >&2
        status=1
    fi
done
exit $status
