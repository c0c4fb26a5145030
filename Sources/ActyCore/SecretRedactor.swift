/// Removes credentials from error messages before they are stored or logged.
///
/// Executors often report provider errors verbatim, and those can carry an API key or a bearer token. The event
/// log and the jobs table are read by tools and shared in bug reports, so secrets are replaced by `[REDACTED]`.
public enum SecretRedactor {
    /// The text with bearer tokens, `sk-…` keys and `key=value` credentials replaced by `[REDACTED]`.
    public static func redact(_ text: String) -> String {
        guard text.contains(where: { $0 == "=" || $0 == ":" || $0 == "-" || $0 == " " }) else { return text }
        var result = text
        result.replace(bearer, with: "$1[REDACTED]")
        result.replace(providerKey, with: "[REDACTED]")
        result.replace(assignment, with: "$1[REDACTED]")
        return result
    }

    // Swift's `Regex` is not `Sendable`, so the patterns are built per use through these computed properties.
    private static var bearer: Regex<(Substring, Substring)> {
        #/(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*/#
    }
    private static var providerKey: Regex<Substring> {
        #/\b(?:sk|pk|rk|xox[abp])-[A-Za-z0-9\-_]{8,}/#
    }
    private static var assignment: Regex<(Substring, Substring)> {
        #/(?i)(\b(?:api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|password|passwd)\b["']?\s*[:=]\s*["']?)[^\s"'&,;]+/#
    }
}
