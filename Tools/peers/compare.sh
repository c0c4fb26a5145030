#!/usr/bin/env bash
# Runs the fan-out workload on ours (acty-bench, release build), Python acty 0.1.1, litequeue and the SQLite ceiling
# (Tools/ceiling.sh: the same row writes by plain SQL from one thread), alternately, N times each, then prints the
# medians and the ratios ours / python-acty and ours / litequeue as a table and one JSON line.
#   Tools/peers/compare.sh [--runs N] [--executor echo|noop] [--litequeue-workers N] [--no-build]
# Defaults: 5 runs, Python acty with EchoExecutor (as measured in the semantics reference §10), litequeue with
# 8 threads, 2,000 groups × (1 + 9), 8 primer / 32 follower workers. Raw JSON lines are kept in the file printed
# at the end. Needs Python >= 3.12 (Tools/peers/setup.sh finds one), swift, cc and libsqlite3-dev.
set -euo pipefail
runs=5 executor=echo lq_workers=8 build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --executor) executor="$2"; shift 2 ;;
        --litequeue-workers) lq_workers="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n 2,8p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

python="$("$here/setup.sh" | tail -n 1)"
if [ "$build" = 1 ]; then
    echo "compare.sh: swift build -c release --product acty-bench" >&2
    swift build -c release --product acty-bench >&2
fi
bench="$root/.build/release/acty-bench"
[ -x "$bench" ] || { echo "compare.sh: $bench is missing (run without --no-build)" >&2; exit 1; }

results="$(mktemp "${TMPDIR:-/tmp}/acty-compare-XXXXXX.jsonl")"
record() {  # label, command...: runs the command, keeps its last stdout line (the JSON) tagged with the label
    local label="$1"; shift
    local line
    line="$("$@" | tail -n 1)"
    printf '%s\t%s\n' "$label" "$line" >> "$results"
    printf '  %-12s %s\n' "$label" "$line" >&2
}
for run in $(seq 1 "$runs"); do
    echo "compare.sh: run $run of $runs" >&2
    record ours "$bench" fanout --primer-workers 8 --follower-workers 32
    record python-acty "$python" "$here/acty_fanout.py" --primer-workers 8 --follower-workers 32 --executor "$executor"
    record litequeue "$python" "$here/litequeue_fanout.py" --workers "$lq_workers"
    record ceiling "$root/Tools/ceiling.sh"
done

"$python" - "$results" "$runs" <<'PY'
import json, statistics, sys, platform, os, datetime
path, runs = sys.argv[1], int(sys.argv[2])
rows = {}
for line in open(path):
    label, _, text = line.rstrip("\n").partition("\t")
    rows.setdefault(label, []).append(json.loads(text))
order = ["ours", "python-acty", "litequeue", "ceiling"]
median = {label: statistics.median(r["jobs_per_second"] for r in rows[label]) for label in order if label in rows}
rss = {label: statistics.median(r["peak_rss_mb"] for r in rows[label] if "peak_rss_mb" in r)
       for label in order if label in rows and any("peak_rss_mb" in r for r in rows[label])}
print(f"\nfan-out 2,000 groups x (1 + 9), 8/32 workers, {runs} runs each, alternated ({path})")
print(f"{'implementation':<14} {'median jobs/s':>14} {'ours / this':>12} {'peak RSS MiB':>13}  runs (jobs/s)")
for label in order:
    if label not in median:
        continue
    ratio = median["ours"] / median[label]
    each = ", ".join(f"{r['jobs_per_second']:.0f}" for r in rows[label])
    mem = f"{rss[label]:.1f}" if label in rss else "-"
    print(f"{label:<14} {median[label]:>14,.0f} {ratio:>11.2f}x {mem:>13}  {each}")
summary = {
    "workload": "fanout_compare", "runs": runs, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": f"{platform.machine()} nproc={os.cpu_count()}",
    "median_jobs_per_second": {k: round(v, 1) for k, v in median.items()},
    "median_peak_rss_mb": {k: round(v, 1) for k, v in rss.items()},
    "ours_over_python_acty": round(median["ours"] / median["python-acty"], 2),
    "ours_over_litequeue": round(median["ours"] / median["litequeue"], 2),
    "ours_over_ceiling": round(median["ours"] / median["ceiling"], 3),
    "python_acty_executor": rows["python-acty"][0].get("executor"),
    "litequeue_version": rows["litequeue"][0].get("litequeue_version"),
    "raw": path,
}
print(json.dumps(summary))
PY
