#!/bin/sh
# "Following does not slow the engine": acty-bench fanout throughput with `acty-tui follow` attached (in a tmux
# pane, on the same file) and without, alternating, N runs each. Each run's database is created first by a
# one-group fanout, so follow is attached before the measured run starts.
# Usage: swift build -c release --product acty-tui && swift build -c release --product acty-bench && Tools/tui-follow-fanout.sh [runs, default 5] [groups, default 10000]
set -eu
cd "$(dirname "$0")/.."
runs=${1:-5}
groups=${2:-10000}
tui=$PWD/.build/release/acty-tui
bench=.build/release/acty-bench
folder=$(mktemp -d)
session=acty-tui-fanout-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$folder"' EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
rate() { sed 's/.*"jobs_per_second":\([0-9.]*\).*/\1/'; }
for run in $(seq "$runs"); do
    for mode in without with; do
        db=$folder/$mode-$run.db
        "$bench" fanout --groups 1 --database "$db" > /dev/null
        if [ "$mode" = with ]; then
            tmux new-session -d -s "$session" -x 160 -y 48 "$tui follow $db"
            sleep 1
        fi
        echo "$mode $("$bench" fanout --groups "$groups" --followers 9 --database "$db" | rate)"
        [ "$mode" = with ] && tmux kill-session -t "$session"
        rm -f "$db" "$db-wal" "$db-shm"
    done
done | tee "$folder/runs"
awk '{ v[$1] = v[$1] " " $2 } END { print "without:" v["without"]; print "with:   " v["with"] }' "$folder/runs"
for mode in without with; do
    printf '%s median: ' "$mode"; awk -v m="$mode" '$1 == m { print $2 }' "$folder/runs" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
