#!/usr/bin/env bash
# Fuzzes ActyCore's JSON parser and its parse → serialize → parse round trip with libFuzzer (coverage-guided, with
# AddressSanitizer) for a fixed time budget:
#   Tools/fuzz/run.sh [seconds]        (default 60)
# The seed corpus in Tools/fuzz/corpus is copied to .build/fuzz/corpus, which keeps what libFuzzer learns between
# runs. A crash leaves its input in .build/fuzz/ and a non-zero exit status.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
out=.build/fuzz
mkdir -p "$out/corpus"
cp -n Tools/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
sources=(Sources/ActyCore/JSON*.swift)
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name ActyCore \
    "${sources[@]}" Tools/fuzz/FuzzJSON.swift -o "$out/fuzz-json"
# The Swift runtime's crash handler and AddressSanitizer's both want the crash: leave it to the sanitizer.
SWIFT_BACKTRACE=enable=no "$out/fuzz-json" -max_total_time="$seconds" -max_len=4096 -dict=Tools/fuzz/json.dict \
    -artifact_prefix="$out/" -print_final_stats=1 "$out/corpus"
