#!/bin/sh
# Measures `acty-tui follow` on a 1,000,000-job database (100,000 groups x (1 + 9), written once by
# `acty-bench fanout` and kept in $TMPDIR/acty-tui-follow-1m.db):
#  1. first frame and refresh times (`acty-tui follow-timing`, follow's code without a terminal) while
#     `acty-bench fanout` adds jobs to the same file;
#  2. CPU while idle and RSS over time of a real `acty-tui follow` in a tmux pane, first idle, then while the
#     writer adds 20,000 jobs at full speed, pauses, and again, for `minutes`.
# Usage: swift build -c release --product acty-tui && swift build -c release --product acty-bench && Tools/tui-follow-bench.sh [minutes [pause]]
#   minutes: how long the writer runs (default 1); pause: seconds between its bursts (default 1; 9 for an hour-long
#   run at ~2,000 jobs/s that does not fill the disk).
set -eu
cd "$(dirname "$0")/.."
minutes=${1:-1}
pause=${2:-1}
tui=.build/release/acty-tui
bench=.build/release/acty-bench
db=${TMPDIR:-/tmp}/acty-tui-follow-1m.db
if [ ! -s "$db" ]; then
    "$bench" fanout --groups 100000 --followers 9 --database "$db.part" > /dev/null
    for suffix in "" -wal -shm; do [ -e "$db.part$suffix" ] && mv "$db.part$suffix" "$db$suffix"; done
fi
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "first frame and refreshes, idle file:"
"$tui" follow-timing "$db" --seconds 2
echo "first frame and refreshes, while acty-bench fanout writes 20,000 jobs at full speed:"
"$bench" fanout --groups 2000 --followers 9 --database "$db" > /dev/null &
writer=$!
"$tui" follow-timing "$db" --seconds 4
wait "$writer"

session=acty-tui-bench-$$
tmux new-session -d -s "$session" -x 160 -y 48 "$tui follow $db"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
sleep 2
pid=$(tmux list-panes -t "$session" -F '#{pane_pid}')
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; }
c0=$(cpu); sleep 20; c1=$(cpu)
echo "idle: $(( (c1 - c0) * 100 / ticks / 20 ))% of one core over 20 s (cpu ticks $((c1 - c0)) at $ticks/s), RSS $(rss) kB"
echo "RSS (kB) every 10 s while acty-bench fanout writes for $minutes min, $pause s between bursts:"
end=$(( $(date +%s) + minutes * 60 ))
( while [ "$(date +%s)" -lt "$end" ]; do "$bench" fanout --groups 2000 --followers 9 --database "$db" > /dev/null; sleep "$pause"; done ) &
writer=$!
c0=$(cpu); t0=$(date +%s)
while kill -0 "$writer" 2>/dev/null; do printf '%s ' "$(rss)"; sleep 10; done
c1=$(cpu); t1=$(date +%s)
echo
echo "while writing: $(( (c1 - c0) * 100 / ticks / (t1 - t0 + 1) ))% of one core, RSS at the end $(rss) kB"
