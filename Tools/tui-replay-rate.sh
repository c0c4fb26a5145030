#!/bin/sh
# Measures acty-tui's state layer: builds a JSONL log of about N events by repeating Python acty's run-a.jsonl
# with fresh ids and seqs, then times `acty-tui snapshot` (parse + apply every event + one frame), 3 runs.
# The log is kept in $TMPDIR/acty-tui-replay-N.jsonl for later runs (awk took minutes to write it; python takes seconds).
# Usage: swift build -c release --product acty-tui && Tools/tui-replay-rate.sh [events, default 1000000] [runs, default 3]
set -eu
cd "$(dirname "$0")/.."
events=${1:-1000000}
runs=${2:-3}
bin=${ACTY_TUI:-.build/release/acty-tui}
fixture=Tests/ActyTUITests/Fixtures/python-run-a.jsonl
out=${TMPDIR:-/tmp}/acty-tui-replay-$events.jsonl
if [ ! -s "$out" ]; then
    python3 - "$fixture" "$events" "$out.part" <<'PY'
import re, sys
fixture, events, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(fixture).read().splitlines()
seq = re.compile(r'"seq": ?[0-9]+')
with open(out, "w") as f:
    n = 0
    for c in range((events + len(lines) - 1) // len(lines)):
        for line in lines:
            n += 1
            f.write(seq.sub('"seq": %d' % n, line.replace(":g", ":r%dg" % c), count=1) + "\n")
PY
    mv "$out.part" "$out"
fi
count=$(wc -l < "$out")
echo "events: $count  load: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    "$bin" snapshot "$out" --width 120 --height 40 > /dev/null
    end=$(date +%s.%N)
    echo "$count $start $end" | awk '{ printf "seconds: %.2f  events/s: %.0f\n", $3 - $2, $1 / ($3 - $2) }'
done
