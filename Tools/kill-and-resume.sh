#!/usr/bin/env bash
# Runs `acty-test-worker work` on a database again and again, SIGKILLing each process after a random pause, until
# one finishes the work on its own or KILLS kills are done; then one last process runs the rest to the end.
# Sourced by Tools/killloop.sh and Tools/soak.sh, which set:
#   worker (binary), dir (run folder), KILLS, MIN_MS, MAX_MS (the pause before each kill), and the array work_args.
# Sets `kills` (processes that died of the SIGKILL) and `finished_early` (processes that ended on their own first).

kills=0
finished_early=0
run=0
while [ "$kills" -lt "$KILLS" ]; do
    "$worker" "${work_args[@]}" > "$dir/run-$run.out" 2> "$dir/run-$run.err" &
    pid=$!
    # RANDOM is 15 bits; two draws cover pauses longer than 32 s.
    pause=$(( MIN_MS + (RANDOM * 32768 + RANDOM) % (MAX_MS - MIN_MS + 1) ))
    sleep "$(awk -v ms="$pause" 'BEGIN { printf "%.3f", ms / 1000 }')"
    kill -KILL "$pid" 2> /dev/null || true
    status=0
    wait "$pid" 2> /dev/null || status=$?  # no "Killed" line from the shell for each kill
    if [ "$status" -eq 137 ]; then
        kills=$((kills + 1))
    elif [ "$status" -eq 0 ]; then
        finished_early=$((finished_early + 1))
        echo "run $run finished the work before its kill" >&2
        break
    else
        echo "run $run ended with status $status:" >&2
        cat "$dir/run-$run.err" >&2
        exit 1
    fi
    run=$((run + 1))
done
status=0
"$worker" "${work_args[@]}" > "$dir/final.out" 2> "$dir/final.err" || status=$?
if [ "$status" -ne 0 ]; then
    echo "the final run ended with status $status:" >&2
    cat "$dir/final.err" >&2
    exit 1
fi
