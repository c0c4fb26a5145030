#!/usr/bin/env bash
# Measures what SecretRedactor.redact costs per message: one without a credential word (the fast path, which must
# run no regular expression) and two with one. Compiles Sources/ActyCore/SecretRedactor.swift alone, optimized.
#   Tools/redaction-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/acty-redaction-cost"
mkdir -p "$out"
cat > "$out/main.swift" <<'SWIFT'
import Foundation

@main struct RedactionCost {
    static func main() {
        let messages = [
            ("no credential word", "connection reset by peer: upstream closed the stream after 30 s", 1_000_000),
            ("api_key=…", "HTTP 401: invalid api_key=abc123 for project 7", 5_000),
            ("NSError user info", #"Error Domain=NSURLErrorDomain Code=-1011 "(null)" UserInfo={token=abc123}"#, 5_000),
        ]
        for (name, text, count) in messages {
            var bytes = 0
            let start = ContinuousClock.now
            for _ in 0..<count { bytes &+= SecretRedactor.redact(text).utf8.count }
            let elapsed = ContinuousClock.now - start
            let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
            print("\(name): \(Int(nanoseconds / Double(count))) ns per message (\(bytes / count) bytes out)")
        }
    }
}
SWIFT
swiftc -O -parse-as-library -module-name ActyCore Sources/ActyCore/SecretRedactor.swift "$out/main.swift" -o "$out/redaction-cost"
"$out/redaction-cost"
