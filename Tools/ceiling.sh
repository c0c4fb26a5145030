#!/usr/bin/env bash
# Builds and runs Tools/sqlite-ceiling.c: the fan-out workload's row writes by plain SQL from one thread, the
# ceiling for what the engine's single writer can reach on this machine. Extra arguments go to the program:
#   Tools/ceiling.sh [groups=2000] [followers=9] [claim batch=40] [synchronous=NORMAL] [mode=batched]
# Modes (one JSON line each, "mode" names it):
#   batched    up to 16 groups submitted per transaction, as concurrent submitters arrive: the fan-out ceiling
#              (Tools/ceiling.sh; with FULL: Tools/ceiling.sh 2000 9 40 FULL, the .power ceiling).
#   per-group  one group per transaction, as a sequential `for … { try await engine.submitGroup(…) }` loop commits
#              them, with the pending claims and completions in the same transactions: the sequential-loop ceiling
#              (Tools/ceiling.sh 2000 9 40 NORMAL per-group).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/acty-sqlite-ceiling"
cc -O2 -o "$out" Tools/sqlite-ceiling.c -lsqlite3
db="$(mktemp -d)/ceiling.db"
cat migrations/*.sql > "$(dirname "$db")/schema.sql"
"$out" "$(dirname "$db")/schema.sql" "$db" "$@"
rm -rf "$(dirname "$db")"
