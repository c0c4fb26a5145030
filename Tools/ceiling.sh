#!/usr/bin/env bash
# Builds and runs Tools/sqlite-ceiling.c: the fan-out workload's row writes by plain SQL from one thread, the
# ceiling for what the engine's single writer can reach on this machine. Extra arguments go to the program:
#   Tools/ceiling.sh [groups] [followers] [claim batch] [synchronous]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/acty-sqlite-ceiling"
cc -O2 -o "$out" Tools/sqlite-ceiling.c -lsqlite3
db="$(mktemp -d)/ceiling.db"
cat migrations/*.sql > "$(dirname "$db")/schema.sql"
"$out" "$(dirname "$db")/schema.sql" "$db" "$@"
rm -rf "$(dirname "$db")"
