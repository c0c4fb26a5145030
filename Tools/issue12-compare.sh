#!/usr/bin/env bash
# Runs issue 12's goal workloads on two release builds of acty-bench side by side (baseline and candidate,
# alternating run by run, the order swapped every round) with the SQLite ceiling that goes with each, then prints
# one table of medians and ratios.
#   Tools/issue12-compare.sh [--runs N] [--quick] [--only w1,w2] [--latency-rate R] BASELINE CANDIDATE
# BASELINE and CANDIDATE are acty-bench binaries, e.g. a build of main before the change and the change's build:
#   git worktree add --detach ../base 398a33d && (cd ../base && swift build -c release --product acty-bench)
#   Tools/issue12-compare.sh ../base/.build/release/acty-bench .build/release/acty-bench
# Workloads (--only takes their names):
#   fanout      fanout, 16 submitters, 8/32 workers             vs Tools/ceiling.sh (batched)
#   sequential  fanout --submitters 1                           vs Tools/ceiling.sh … per-group
#   power       fanout --durability power                       vs Tools/ceiling.sh … FULL
#   latency     latency --rate R --seconds 10: p99 and RSS; R is --latency-rate or half the candidate's fanout
#               median of this call (both binaries run at the same rate)
#   scale       scale (1,000,000 jobs)
#   fairness    fairness --weights 5:3:1: largest share error in points
# Defaults: 3 runs each. --quick shrinks every workload (500 groups, 50,000 jobs for scale, 2 s of latency, 1,000
# jobs a lane) to check the script, not to measure. Raw JSON lines are kept in the file printed at the end.
set -euo pipefail
runs=3 quick=0 only="fanout,sequential,power,latency,scale,fairness" latency_rate=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --quick) quick=1; shift ;;
        --only) only="$2"; shift 2 ;;
        --latency-rate) latency_rate="$2"; shift 2 ;;
        -h|--help) sed -n 2,19p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "issue12-compare.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || { echo "usage: Tools/issue12-compare.sh [--runs N] [--quick] [--only w1,w2] [--latency-rate R] BASELINE CANDIDATE" >&2; exit 2; }
baseline="$(realpath "$1")" candidate="$(realpath "$2")"
for bench in "$baseline" "$candidate"; do
    [ -x "$bench" ] || { echo "issue12-compare.sh: $bench is not an executable" >&2; exit 2; }
done
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ "$quick" = 1 ]; then
    groups=500 scale_args=(--groups 5000 --checkpoints 50000 --window 5000) latency_seconds=2 lane_jobs=1000
else
    groups=2000 scale_args=(--checkpoints 1000000) latency_seconds=10 lane_jobs=4000
fi

results="$(mktemp "${TMPDIR:-/tmp}/acty-issue12-XXXXXX.jsonl")"
record() {  # workload, label, command...: runs the command and keeps its last stdout line (the JSON), tagged
    local workload="$1" label="$2"; shift 2
    local line
    line="$("$@" | tail -n 1)"
    printf '%s\t%s\t%s\n' "$workload" "$label" "$line" >> "$results"
    printf '  %-10s %-9s %s\n' "$workload" "$label" "$line" | cut -c1-160 >&2
}
# Runs a workload N times on both binaries (and its ceiling, if given), alternating, the order swapped each round.
compare() {  # workload, "ceiling args" or "", acty-bench args...
    local workload="$1" ceiling="$2"; shift 2
    case ",$only," in *",$workload,"*) ;; *) return 0 ;; esac
    echo "issue12-compare.sh: $workload ($runs runs each)" >&2
    for run in $(seq 1 "$runs"); do
        if [ $((run % 2)) = 1 ]; then
            record "$workload" baseline "$baseline" "$@"
            record "$workload" candidate "$candidate" "$@"
        else
            record "$workload" candidate "$candidate" "$@"
            record "$workload" baseline "$baseline" "$@"
        fi
        # shellcheck disable=SC2086 # the ceiling's arguments are words
        [ -z "$ceiling" ] || record "$workload" ceiling "$root/Tools/ceiling.sh" $ceiling
    done
}
median_fanout() {  # label: median jobs/s of this call's fanout runs
    python3 - "$results" "$1" <<'PY'
import json, statistics, sys
values = [json.loads(l.split("\t", 2)[2])["jobs_per_second"] for l in open(sys.argv[1]) if l.startswith("fanout\t" + sys.argv[2] + "\t")]
print(int(statistics.median(values) / 2) if values else "")
PY
}

compare fanout "$groups 9 40 NORMAL batched" fanout --groups "$groups"
compare sequential "$groups 9 40 NORMAL per-group" fanout --groups "$groups" --submitters 1
compare power "$groups 9 40 FULL batched" fanout --groups "$groups" --durability power
if [ -z "$latency_rate" ]; then
    latency_rate="$(median_fanout candidate)"
    if [ -z "$latency_rate" ]; then
        latency_rate="$("$candidate" fanout --groups "$groups" | python3 -c 'import json, sys; print(int(json.load(sys.stdin)["jobs_per_second"] / 2))')"
    fi
fi
compare latency "" latency --rate "$latency_rate" --seconds "$latency_seconds"
compare scale "" scale "${scale_args[@]}"
compare fairness "" fairness --weights 5:3:1 --jobs-per-lane "$lane_jobs"

python3 - "$results" "$runs" <<'PY'
import json, statistics, sys
path, runs = sys.argv[1], int(sys.argv[2])
rows = {}
for line in open(path):
    workload, label, text = line.rstrip("\n").split("\t", 2)
    rows.setdefault(workload, {}).setdefault(label, []).append(json.loads(text))

def median(workload, label, value):
    values = [value(r) for r in rows.get(workload, {}).get(label, [])]
    return statistics.median(values) if values else None

# workload, what, how to read it from a JSON line, whether more is better
metrics = [
    ("fanout", "jobs/s", lambda r: r["jobs_per_second"], True),
    ("sequential", "jobs/s", lambda r: r["jobs_per_second"], True),
    ("power", "jobs/s", lambda r: r["jobs_per_second"], True),
    ("latency", "enqueue→start p99 ms", lambda r: r["enqueue_to_start_ms"]["p99"], False),
    ("latency", "call→start p99 ms", lambda r: r["call_to_start_ms"]["p99"], False),
    ("scale", "jobs/s (drain)", lambda r: r["jobs_per_second"], True),
    ("fairness", "max share error pts", lambda r: r["max_share_error_points"], False),
]
def number(x):
    if x is None: return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}"
print(f"\nissue 12 goals, {runs} runs each, alternated (raw: {path})")
header = f"{'workload':<11} {'metric':<21} {'baseline':>10} {'candidate':>10} {'cand/base':>9} {'ceiling':>9} {'cand/ceil':>9} {'RSS MiB b→c':>13}"
print(header)
print("-" * len(header))
for workload, what, value, _ in metrics:
    if workload not in rows:
        continue
    base, cand = median(workload, "baseline", value), median(workload, "candidate", value)
    ceiling = median(workload, "ceiling", lambda r: r["jobs_per_second"]) if what.startswith("jobs/s") else None
    ratio = f"{cand / base:.2f}x" if base and cand is not None else "-"
    of_ceiling = f"{100 * cand / ceiling:.0f}%" if ceiling and cand is not None else "-"
    rss_b = median(workload, "baseline", lambda r: r["peak_rss_mb"])
    rss_c = median(workload, "candidate", lambda r: r["peak_rss_mb"])
    rss = f"{rss_b:.0f}→{rss_c:.0f}" if rss_b is not None and rss_c is not None else "-"
    print(f"{workload:<11} {what:<21} {number(base):>10} {number(cand):>10} {ratio:>9} {number(ceiling):>9} {of_ceiling:>9} {rss:>13}")
if "latency" in rows:
    rate = rows["latency"]["candidate"][0]["rate"]
    print(f"latency at {rate:,.0f} jobs/s for both binaries")
PY
echo "raw JSON lines: $results" >&2
