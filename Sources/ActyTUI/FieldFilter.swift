/// What `/` typed, as terms: `field:value` matches one field of a row (`type:job_failed group:g1 lane:priority`),
/// a bare word matches anywhere in the row's text, `-` before a term excludes what it matches, and a value ending in
/// `*` matches by prefix (`type:job_*`). A value also matches the last part of a key (`group:g34` matches Python
/// acty's `background:g34`, `group:api-3` acty-demo's `run-…/priority/api-3`). Terms on different fields must all match; several terms on one field match
/// when any does (`type:job_failed type:job_retrying`).
struct FieldFilter: Hashable {
    struct Term: Hashable {
        var field: String?
        var value: String
        var excluded: Bool

        func matches(_ row: (String) -> String?, text: String) -> Bool {
            guard let field else { return text.contains(value) }
            guard let actual = row(field) else { return false }
            if value.hasSuffix("*") { return actual.hasPrefix(value.dropLast()) }
            return actual == value || actual.hasSuffix(":" + value) || actual.hasSuffix("/" + value)
        }
    }

    let terms: [Term]

    /// Parses `text`; a colon only names a field when what is before it is one of `fields` (group keys such as
    /// Python acty's `priority:g0` contain colons).
    init(_ text: String, fields: Set<String>) {
        terms = text.split(separator: " ").compactMap { word in
            var word = Substring(word)
            let excluded = word.hasPrefix("-") && word.count > 1
            if excluded { word = word.dropFirst() }
            if let colon = word.firstIndex(of: ":"), fields.contains(String(word[..<colon])) {
                let value = String(word[word.index(after: colon)...])
                return value.isEmpty ? nil : Term(field: String(word[..<colon]), value: value, excluded: excluded)
            }
            return Term(field: nil, value: String(word), excluded: excluded)
        }
    }

    var isEmpty: Bool { terms.isEmpty }

    /// Whether a row passes: `row` gives a field's value (nil when the row has none), `text` is what bare words search.
    func matches(_ row: (String) -> String?, text: @autoclosure () -> String) -> Bool {
        guard !terms.isEmpty else { return true }
        let text = terms.contains { $0.field == nil } ? text() : ""
        var included: [String: Bool] = [:]
        for term in terms {
            let hit = term.matches(row, text: text)
            if term.excluded {
                if hit { return false }
            } else {
                let key = term.field ?? " \(term.value)"
                included[key] = (included[key] ?? false) || hit
            }
        }
        return included.values.allSatisfy { $0 }
    }
}
