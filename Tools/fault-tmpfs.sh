#!/usr/bin/env bash
# Runs an engine (acty-test-worker) on a real small tmpfs, fills the disk while jobs run, frees it, and checks that
# the run completes: every job succeeded, none recorded twice, the engine neither hung nor busy-looped meanwhile.
# Needs root (mount). Usage:
#   Tools/fault-tmpfs.sh [groups] [followers] [seconds the disk stays full]
set -euo pipefail
cd "$(dirname "$0")/.."
groups="${1:-200}"
followers="${2:-4}"
full_seconds="${3:-5}"
jobs=$((groups * (followers + 1)))

if [ "$(id -u)" -ne 0 ]; then
    echo "fault-tmpfs: needs root to mount a tmpfs" >&2
    exit 1
fi
swift build --product acty-test-worker >/dev/null
swift build --product acty-query >/dev/null
bin="$(swift build --show-bin-path)"

work="$(mktemp -d)"
mnt="$work/mnt"
mkdir "$mnt"
mount -t tmpfs -o size=32m tmpfs "$mnt"
worker_pid=""
cleanup() {
    if [ -n "$worker_pid" ]; then kill "$worker_pid" 2>/dev/null || true; fi
    umount -l "$mnt" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

db="$mnt/acty.db"
"$bin/acty-test-worker" submit --database "$db" --groups "$groups" --followers "$followers"
# The execution log lives outside the mount, so filling the disk does not stop it.
"$bin/acty-test-worker" work --database "$db" --log "$work/executions.log" --min-sleep-ms 20 --max-sleep-ms 60 \
    --timeout 120 2>"$work/worker.err" &
worker_pid=$!

sleep 1
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
echo "disk full: $(df -k --output=used,size "$mnt" | tail -1 | awk '{print $1 " of " $2 " KiB used"}'), $(wc -l <"$work/executions.log") executions so far"
# While the disk is full, the engine must back off, not spin: sample its CPU use.
ticks_before=$(awk '{print $14 + $15}' "/proc/$worker_pid/stat")
sleep "$full_seconds"
ticks_after=$(awk '{print $14 + $15}' "/proc/$worker_pid/stat")
cpu=$(( (ticks_after - ticks_before) * 100 / ($(getconf CLK_TCK) * full_seconds) ))
kill -0 "$worker_pid" || { echo "FAIL: the worker died while the disk was full" >&2; cat "$work/worker.err" >&2; exit 1; }
echo "while full for ${full_seconds} s: worker used ${cpu}% of a core, $(wc -l <"$work/executions.log") executions so far"
rm -f "$mnt/filler"
echo "disk freed"

status=0
wait "$worker_pid" || status=$?
worker_pid=""
{ grep -m1 "claiming failed" "$work/worker.err" || true; grep -E "works again|done" "$work/worker.err" || true; } | sed 's/^/worker: /'
if [ "$status" -ne 0 ]; then
    echo "FAIL: the worker exited with status $status" >&2
    cat "$work/worker.err" >&2
    exit 1
fi

summary="$("$bin/acty-query" summary "$db" --format json)"
by_state="$(echo "$summary" | grep -o '"jobs_by_state": \[[^]]*\]')"
succeeded_jobs="$(echo "$by_state" | grep -o '{"state": "succeeded", "count": [0-9]*}' | grep -o '[0-9]*}' | tr -d '}')"
attempts="$("$bin/acty-query" attempts "$db" --limit $((jobs * 10)) --format jsonl)"
successes="$(echo "$attempts" | grep -c '"outcome": "succeeded"' || true)"
distinct="$(echo "$attempts" | grep '"outcome": "succeeded"' | grep -o '"job_id": [0-9]*' | sort -u | wc -l)"
echo "jobs=$jobs succeeded=${succeeded_jobs:-0} succeeded_attempts=$successes distinct_jobs_succeeded=$distinct cpu_while_full=${cpu}%"
if [ "${succeeded_jobs:-0}" -ne "$jobs" ] || [ "$successes" -ne "$jobs" ] || [ "$distinct" -ne "$jobs" ]; then
    echo "FAIL: not every job succeeded exactly once" >&2
    echo "$summary" >&2
    exit 1
fi
if [ "$cpu" -ge 50 ]; then
    echo "FAIL: the engine used ${cpu}% of a core while the disk was full (a busy loop?)" >&2
    exit 1
fi
echo "OK: the run completed after the disk was freed; every job succeeded exactly once"
