#!/usr/bin/env bash
# Runs the engine's test suites (ActyTests, ActyStoreTests) once under ThreadSanitizer and counts its reports.
#   Tools/tsan.sh [--no-build] [--filter REGEX]
# Builds into .build-tsan. Exits 1 when ThreadSanitizer reported anything; the full output stays in the file it names.
# Tests that time things (leases, timeouts, kill loops) can fail under TSan's 5-15x slowdown on a loaded machine:
# those failures are listed but are not what this script checks.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
filter='ActyTests|ActyStoreTests'
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --filter) filter="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$build" -eq 1 ] && swift build --build-tests --sanitize=thread --scratch-path .build-tsan
log="$(mktemp "${TMPDIR:-/tmp}/acty-tsan.XXXXXX.log")"
# halt_on_error=0: see every report, not just the first. Child processes (acty-test-worker) are TSan builds too.
TSAN_OPTIONS="halt_on_error=0 ${TSAN_OPTIONS:-}" swift test --skip-build --sanitize=thread --scratch-path .build-tsan \
    --filter "$filter" >"$log" 2>&1 || true
reports=$(grep -c "WARNING: ThreadSanitizer" "$log" || true)
echo "==> $(grep -E '^. Test run with' "$log" | tail -1)"
grep -E '^. Test .* recorded an issue' "$log" | cut -c1-200 || true
echo "==> ThreadSanitizer reports: $reports (output: $log)"
[ "$reports" -eq 0 ]
