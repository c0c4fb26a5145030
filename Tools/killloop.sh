#!/usr/bin/env bash
# The kill loop of issue 10: engine processes with the DEFAULT configuration (one attempt per job, three abandoned
# attempts) SIGKILLed at random moments, at least 50 times, each run resumed by the next process; then the
# invariants: 0 lost, 0 failed, 0 recorded twice, no follower before its primer (Tools/check-run.sh).
#   Tools/killloop.sh [--no-build] [--kills N] [--seed S] [--groups G]
# Release build of acty-test-worker. Keeps the run's folder (database, execution log, process output) and says where.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
KILLS=50
seed=20261205
groups=6000
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --kills) KILLS="$2"; shift ;;
        --seed) seed="$2"; shift ;;
        --groups) groups="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$build" -eq 1 ] && swift build -c release --product acty-test-worker
worker=.build/release/acty-test-worker
dir="$(mktemp -d "${TMPDIR:-/tmp}/acty-killloop.XXXXXX")"
RANDOM=$seed
MIN_MS=150
MAX_MS=900

started=$(date +%s)
"$worker" submit --database "$dir/acty.db" --groups "$groups" --followers 4 --max-attempts 1
# Executor runs of 5-20 ms keep jobs in flight at every kill; pools of 2 and 8 as in EngineConfiguration().
work_args=(work --database "$dir/acty.db" --log "$dir/executions.log" --default-configuration --primer-workers 2
    --follower-workers 8 --min-sleep-ms 5 --max-sleep-ms 20 --timeout 600)
source Tools/kill-and-resume.sh
echo "kills=$kills finished_early=$finished_early seed=$seed seconds=$(( $(date +%s) - started )) folder=$dir"
Tools/check-run.sh "$dir/acty.db" "$dir/executions.log"
if [ "$kills" -lt "$KILLS" ]; then
    echo "only $kills kills landed before the work was done: use more --groups" >&2
    exit 1
fi
