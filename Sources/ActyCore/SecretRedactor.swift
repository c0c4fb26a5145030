import Foundation

/// Removes credentials from error messages before they are stored or logged.
///
/// Executors often report provider errors verbatim, and those can carry an API key or a bearer token. The event
/// log and the jobs table are read by tools and shared in bug reports, so secrets are replaced by `[REDACTED]`.
///
/// Recognised: bearer tokens and `Authorization:` header values (the scheme, such as `Basic`, is kept), well-known
/// key formats (`sk-…`, `sk_live_…`, Slack `xox…-`, GitHub `ghp_…`/`github_pat_…`, AWS `AKIA…`, Google `AIza…`),
/// passwords in URLs (`scheme://user:…@host`), `apikey <key>`, and `name=value` / `name: value` credentials whose
/// name ends in a credential word (`api_key`, `client_secret`, `refresh_token`, `db_password`, …), with bare, single-
/// or double-quoted values (JSON, Python reprs and `NSError` user info included). Closing brackets after a bare value
/// (`UserInfo={token=…}`) are kept.
package enum SecretRedactor {
    /// What a secret is replaced with.
    package static let placeholder = "[REDACTED]"

    /// The text with bearer tokens, provider keys, URL passwords and `key=value` credentials replaced by
    /// `[REDACTED]`. Redacting twice gives the same text as redacting once.
    package static func redact(_ text: String) -> String {
        // The shortest credential the patterns match (`pwd=x`) has 5 characters.
        guard text.utf8.count >= 5 else { return text }
        // Regular expressions are slow next to a job; most errors hold no credential word at all, so look for the
        // words each pattern needs before running it.
        let lowered = Array(text.utf8.lazy.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 })
        var result = text
        if lowered.contains("bearer") { replace(bearer, in: &result, with: "$1\(placeholder)") }
        if lowered.contains("authorization") { replace(authorization, in: &result, with: "$1\(placeholder)") }
        if lowered.contains("://") { replace(urlPassword, in: &result, with: "$1\(placeholder)@") }
        if providerKeyPrefixes.contains(where: lowered.contains) { replace(providerKey, in: &result, with: placeholder) }
        if spacedAPIKeyWords.contains(where: lowered.contains) { replace(spacedAPIKey, in: &result, with: "$1\(placeholder)") }
        if assignmentWords.contains(where: lowered.contains) {
            // $2 and $3 are the quotes around a quoted value; a bare value has neither.
            replace(assignment, in: &result, with: "$1$2$3\(placeholder)$2$3")
        }
        return result
    }

    /// Whether the text holds a word that one of the patterns needs, so that ``redact(_:)`` runs a regular
    /// expression on it at all.
    static func mayHoldSecret(_ text: String) -> Bool {
        guard text.utf8.count >= 5 else { return false }
        let lowered = Array(text.utf8.lazy.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 })
        let words: [StaticString] = ["bearer", "authorization", "://"] + providerKeyPrefixes + spacedAPIKeyWords + assignmentWords
        return words.contains(where: lowered.contains)
    }

    private static let providerKeyPrefixes: [StaticString] = [
        "sk-", "pk-", "rk-", "sk_", "pk_", "rk_", "xox", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "akia", "aiza",
    ]
    private static let spacedAPIKeyWords: [StaticString] = ["apikey", "api key", "api-key", "api_key"]
    private static let assignmentWords: [StaticString] = ["key", "token", "secret", "passw", "pwd"]

    /// Replaces every match of `pattern` in `text` by `template` (`$1` is the first group, `$2` the second; a group
    /// that took no part in the match is empty).
    private static func replace(_ pattern: NSRegularExpression, in text: inout String, with template: String) {
        text = pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
    }

    // `NSRegularExpression` rather than Swift's `Regex`: it is `Sendable`, so each pattern is compiled once and shared
    // by every thread without a lock (Swift's `Regex`, built per call, cost 0.7 ms a message). The patterns are
    // constants: a typo in one fails every test of this type.

    /// `Bearer <token>`: the token has a digit or a symbol and 6+ characters, or is 16+ letters, so prose such as
    /// "the bearer of bad news" is left alone.
    private static let bearer = pattern(
        #"(?i)(\bbearer\s+)(?:(?=[A-Za-z]*[0-9\-._~+/])[A-Za-z0-9\-._~+/]{6,}|[A-Za-z]{16,})=*"#
    )

    /// The value of an `Authorization` (or `Proxy-Authorization`) header, after its scheme (`Basic`, `Token`, …):
    /// `Authorization: Basic dXNlcjpwYXNz`, `'authorization': 'Basic …'`, `authorization=…`. A scheme is a word of
    /// letters (or AWS's `AWS4-HMAC-SHA256`): a first word with digits is the credential itself.
    private static let authorization = pattern(
        #"(?i)(\bauthorization["']?\s*[:=]\s*["']?(?>(?:(?:[A-Za-z][A-Za-z\-]{0,19}|AWS4-HMAC-SHA256)\s+)?))(?!\[REDACTED\])[^\s"',;]+?(?=[)\]}>]*(?:[\s"',;]|$))"#
    )

    /// `scheme://user:password@host`.
    private static let urlPassword = pattern(
        #"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]+:)[^\s/@]+@"#
    )

    /// Provider keys, alone anywhere in the text: `sk-` and its kin need 6+ characters after the dash.
    private static let providerKey = pattern(
        #"\b(?:(?:sk|pk|rk|xox[abpr])-[A-Za-z0-9\-_]{6,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|AKIA[0-9A-Z]{16}\b|AIza[0-9A-Za-z\-_]{30,})"#
    )

    /// `apikey <key>` (also `api key`, `api-key`) without `=` or `:`: the key has a digit and 8+ characters, or is
    /// 16+ letters and digits, so prose such as "apikey is missing" is left alone.
    private static let spacedAPIKey = pattern(
        #"(?i)(\bapi[_\-\s]?key\s+)(?:(?=[A-Za-z\-_.]*[0-9])[A-Za-z0-9\-_.]{8,}|[A-Za-z0-9]{16,})"#
    )

    /// `name = value` where the name ends in a credential word, possibly after `prefix_` or `prefix-` parts. A bare
    /// value stops before closing brackets that end it (`{token=abc}` keeps its `}`).
    private static let assignment = pattern(
        #"(?i)(\b(?:[A-Za-z0-9]+[_\-])*(?:api[_\-\s]?key|access[_\-]?key|secret[_\-]?key|private[_\-]?key|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|token|secret|password|passwd|pwd)["']?\s*[:=]\s*)(?:(")(?:[^"\\\n]|\\.)*"|(')[^'\n]*'|(?!\[REDACTED\])[^\s"'&,;]+?(?=[)\]}>]*(?:[\s"'&,;]|$)))"#
    )
}

extension SecretRedactor {
    private static func pattern(_ text: String) -> NSRegularExpression {
        // The patterns are constants of this file, checked by its tests.
        try! NSRegularExpression(pattern: text)
    }
}

extension [UInt8] {
    /// Whether the bytes contain `word`'s UTF-8 bytes.
    fileprivate func contains(_ word: StaticString) -> Bool {
        word.withUTF8Buffer { needle in
            withUnsafeBufferPointer { bytes in
                guard let first = needle.first, needle.count <= bytes.count else { return needle.isEmpty }
                var index = 0
                while index <= bytes.count - needle.count {
                    if bytes[index] == first, (1..<needle.count).allSatisfy({ bytes[index + $0] == needle[$0] }) { return true }
                    index += 1
                }
                return false
            }
        }
    }
}
