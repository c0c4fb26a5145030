#!/bin/sh
# Measures acty-tui's state layer: builds a JSONL log of about N events by repeating Python acty's run-a.jsonl
# with fresh ids and times, then times `acty-tui snapshot` (parse + apply every event + one frame).
# Usage: swift build -c release --product acty-tui && Tools/tui-replay-rate.sh [events, default 1000000]
set -eu
cd "$(dirname "$0")/.."
events=${1:-1000000}
bin=.build/release/acty-tui
fixture=Tests/ActyTUITests/Fixtures/python-run-a.jsonl
out=$(mktemp -d)/big.jsonl
lines=$(wc -l < "$fixture")
copies=$(( (events + lines - 1) / lines ))
awk -v copies="$copies" -v lines="$lines" '
    { line[NR] = $0 }
    END {
        for (c = 0; c < copies; c++) for (i = 1; i <= lines; i++) {
            l = line[i]
            gsub(/:g/, ":r" c "g", l)
            sub(/"seq": ?[0-9]+/, "\"seq\": " (c * lines + i), l)
            print l
        }
    }' "$fixture" > "$out"
echo "events: $(wc -l < "$out")"
start=$(date +%s.%N)
"$bin" snapshot "$out" --width 120 --height 40 > /dev/null
end=$(date +%s.%N)
echo "$(wc -l < "$out") $start $end" | awk '{ printf "seconds: %.2f  events/s: %.0f\n", $3 - $2, $1 / ($3 - $2) }'
rm -f "$out"
