#!/usr/bin/env bash
# The soak of issue 10: 1,000,000 jobs (100,000 groups of one primer and 9 followers), 5% of executor runs failing
# with a retryable error (up to 10 attempts, 10-100 ms backoff), the engine process SIGKILLed every 2-5 s and resumed
# each time until one finishes the work; then the invariants (Tools/check-run.sh): every job terminal and succeeded,
# exactly one succeeded attempt per job, no follower before its primer, no job failed because of the kills.
#   Tools/soak.sh [--no-build] [--groups G] [--seed S]
# Release build of acty-test-worker. Keeps the run's folder and says where; needs about 1 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
groups=100000
seed=20261205
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --groups) groups="$2"; shift ;;
        --seed) seed="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$build" -eq 1 ] && swift build -c release --product acty-test-worker
worker=.build/release/acty-test-worker
dir="$(mktemp -d "${TMPDIR:-/tmp}/acty-soak.XXXXXX")"
RANDOM=$seed
KILLS=1000000
MIN_MS=2000
MAX_MS=5000

started=$(date +%s)
"$worker" submit --database "$dir/acty.db" --groups "$groups" --followers 9 --max-attempts 10
submitted=$(date +%s)
work_args=(work --database "$dir/acty.db" --log "$dir/executions.log" --default-configuration --primer-workers 2
    --follower-workers 8 --min-sleep-ms 0 --max-sleep-ms 0 --failure-rate 0.05 --timeout 3600)
source Tools/kill-and-resume.sh
finished=$(date +%s)
echo "kills=$kills seed=$seed submit_seconds=$(( submitted - started )) run_seconds=$(( finished - submitted )) folder=$dir"
Tools/check-run.sh "$dir/acty.db" "$dir/executions.log"
