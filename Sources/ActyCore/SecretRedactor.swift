/// Removes credentials from error messages before they are stored or logged.
///
/// Executors often report provider errors verbatim, and those can carry an API key or a bearer token. The event
/// log and the jobs table are read by tools and shared in bug reports, so secrets are replaced by `[REDACTED]`.
///
/// Recognised: bearer tokens (the scheme is kept), well-known key formats (`sk-…`, `sk_live_…`, Slack `xox…-`,
/// GitHub `ghp_…`/`github_pat_…`, AWS `AKIA…`, Google `AIza…`), passwords in URLs (`scheme://user:…@host`), and
/// `name=value` / `name: value` credentials whose name ends in a credential word (`api_key`, `client_secret`,
/// `refresh_token`, `db_password`, …), with bare, single- or double-quoted values (JSON included).
public enum SecretRedactor {
    /// What a secret is replaced with.
    public static let placeholder = "[REDACTED]"

    /// The text with bearer tokens, provider keys, URL passwords and `key=value` credentials replaced by
    /// `[REDACTED]`. Redacting twice gives the same text as redacting once.
    public static func redact(_ text: String) -> String {
        // The shortest credential the patterns match (`pwd=x`) has 5 characters.
        guard text.utf8.count >= 5 else { return text }
        // Regular expressions are slow next to a job; most errors hold no credential word at all, so look for the
        // words each pattern needs before running it.
        let lowered = Array(text.utf8.lazy.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 })
        var result = text
        if lowered.contains("bearer") {
            result.replace(bearer) { "\($0.output.1)\(placeholder)" }
        }
        if lowered.contains("://") {
            result.replace(urlPassword) { "\($0.output.1)\(placeholder)@" }
        }
        if ["sk-", "pk-", "rk-", "sk_", "pk_", "rk_", "xox", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "akia", "aiza"].contains(where: lowered.contains) {
            result.replace(providerKey, with: placeholder)
        }
        if ["key", "token", "secret", "passw", "pwd"].contains(where: lowered.contains) {
            result.replace(assignment) { match in
                let (_, name, value) = match.output
                if let quote = value.first, quote == "\"" || quote == "'" {
                    return "\(name)\(quote)\(placeholder)\(quote)"
                }
                return "\(name)\(placeholder)"
            }
        }
        return result
    }

    // Swift's `Regex` is not `Sendable`, so the patterns are built per use through these computed properties.
    // (Swift's `replace(_:with:)` takes the replacement literally, without `$1` templates: replacements that keep
    // part of the match are closures.)

    /// `Bearer <token>`: the token has a digit or a symbol and 6+ characters, or is 16+ letters, so prose such as
    /// "the bearer of bad news" is left alone.
    private static var bearer: Regex<(Substring, Substring)> {
        #/(?i)(\bbearer\s+)(?:(?=[A-Za-z]*[0-9\-._~+/])[A-Za-z0-9\-._~+/]{6,}|[A-Za-z]{16,})=*/#
    }

    /// `scheme://user:password@host`.
    private static var urlPassword: Regex<(Substring, Substring)> {
        #/(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]+:)[^\s/@]+@/#
    }

    private static var providerKey: Regex<Substring> {
        #/\b(?:(?:sk|pk|rk|xox[abpr])-[A-Za-z0-9\-_]{8,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|AKIA[0-9A-Z]{16}\b|AIza[0-9A-Za-z\-_]{30,})/#
    }

    /// `name = value` where the name ends in a credential word, possibly after `prefix_` or `prefix-` parts.
    private static var assignment: Regex<(Substring, Substring, Substring)> {
        #/(?i)(\b(?:[A-Za-z0-9]+[_\-])*(?:api[_\-]?key|access[_\-]?key|secret[_\-]?key|private[_\-]?key|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|token|secret|password|passwd|pwd)["']?\s*[:=]\s*)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s"'&,;]+)/#
    }
}

extension [UInt8] {
    /// Whether the bytes contain `word`'s UTF-8 bytes.
    fileprivate func contains(_ word: String) -> Bool {
        let needle = Array(word.utf8)
        guard needle.count <= count, let first = needle.first else { return needle.isEmpty }
        var index = startIndex
        while index <= endIndex - needle.count {
            if self[index] == first, self[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
