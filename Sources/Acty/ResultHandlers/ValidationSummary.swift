import Foundation

/// One problem found in a JSON answer, as Pydantic reports it: what kind (`type`, such as `missing`, `string_type`,
/// `literal_error`, `too_short`), where (`location`), a message, the offending value, and details (`context`).
///
/// ``ValidationSummary`` turns a list of them into one readable English sentence for a model to act on.
public struct ValidationIssue: Sendable, Hashable {
    /// A step of a location: an object key or an array index.
    public enum PathElement: Sendable, Hashable {
        /// An object key.
        case key(String)
        /// An array index.
        case index(Int)
    }

    /// Pydantic's error type: `missing`, `extra_forbidden`, `string_type`, `int_parsing`, `literal_error`,
    /// `too_short`, `union_tag_invalid`, `json_invalid`, …
    public var type: String
    /// Where in the answer: keys and indexes from the root; empty for the root itself.
    public var location: [PathElement]
    /// A human-readable message, used when the type says too little.
    public var message: String
    /// The offending value, if there is one.
    public var input: JSONValue?
    /// Details such as `expected`, `min_length` or `pattern`.
    public var context: [String: JSONValue]

    /// Creates an issue.
    public init(type: String, location: [PathElement] = [], message: String = "", input: JSONValue? = nil, context: [String: JSONValue] = [:]) {
        self.type = type
        self.location = location
        self.message = message
        self.input = input
        self.context = context
    }
}

/// The readable summary of validation errors that Python acty's `summarize_validation_errors` writes: sections
/// such as "Missing fields", "Type mismatches" and "Enum mismatches", at most five items each, at most 500
/// characters in all.
///
/// ```swift
/// let hint = ValidationSummary().summarize([
///     ValidationIssue(type: "missing", location: [.key("verdict")]),
///     ValidationIssue(type: "int_type", location: [.key("risks"), .index(0), .key("score")], input: "high"),
/// ])
/// // Missing fields: "verdict" field. Type mismatches: "risks[0].score" field got "high" expected integer
/// ```
public struct ValidationSummary: Sendable {
    /// The words of the summary, by Python acty's label names (`missing_fields`, `type_mismatches`, `expected`, …):
    /// replace some to localize it.
    public var labels: [String: String]

    /// Python acty's English labels.
    public static let defaultLabels: [String: String] = [
        "root": "root", "more_suffix": "... and {count} more", "missing_fields": "Missing fields",
        "type_mismatches": "Type mismatches", "enum_mismatches": "Enum mismatches", "extra_fields": "Extra fields",
        "constraint_violations": "Constraint violations", "union_mismatches": "Union mismatches",
        "format_errors": "Format errors", "other_issues": "Other issues", "allowed_values": "allowed values",
        "expected": "expected", "min_length": "min length", "max_length": "max length", "min_items": "min items",
        "max_items": "max items", "must_match_pattern": "must match pattern", "multiple_of": "multiple of",
        "finite_number": "must be finite", "union_tag_missing": "missing discriminator tag",
        "union_tag_invalid": "invalid discriminator tag", "union_no_match": "no union branch matched",
        "expected_one_of": "expected one of", "json_parse_error": "JSON parse error",
    ]

    /// Creates a summary writer; `labels` replace some of ``defaultLabels``.
    public init(labels: [String: String] = [:]) {
        self.labels = Self.defaultLabels.merging(labels) { _, override in override }
    }

    /// One English string describing `issues`, or `nil` for none.
    public func summarize(_ issues: [ValidationIssue]) -> String? {
        guard !issues.isEmpty else { return nil }
        var sections: [Section: [String]] = [:]
        for issue in issues {
            let (section, item) = describe(issue)
            sections[section, default: []].append(item)
        }
        let parts = Section.allCases.compactMap { section -> String? in
            guard var items = sections[section], !items.isEmpty else { return nil }
            if items.count > Self.maximumItems {
                let more = items.count - Self.maximumItems
                items = Array(items.prefix(Self.maximumItems)) + [label("more_suffix").replacingOccurrences(of: "{count}", with: "\(more)")]
            }
            return "\(label(section.label)): \(items.joined(separator: ", "))"
        }
        guard !parts.isEmpty else { return nil }
        return PythonText.truncated(parts.joined(separator: ". "), to: Self.maximumCharacters)
    }

    static let maximumItems = 5
    static let maximumCharacters = 500

    /// The sections in the order they are written.
    private enum Section: CaseIterable {
        case missing, typeMismatches, enumMismatches, extraFields, constraints, unions, formats, other

        var label: String {
            switch self {
            case .missing: "missing_fields"
            case .typeMismatches: "type_mismatches"
            case .enumMismatches: "enum_mismatches"
            case .extraFields: "extra_fields"
            case .constraints: "constraint_violations"
            case .unions: "union_mismatches"
            case .formats: "format_errors"
            case .other: "other_issues"
            }
        }
    }

    private func label(_ name: String) -> String { labels[name] ?? Self.defaultLabels[name] ?? name }

    /// The section an issue belongs to and how it reads there.
    private func describe(_ issue: ValidationIssue) -> (Section, String) {
        let type = issue.type
        let context = issue.context
        let got = issue.input.flatMap { $0 == .null ? nil : PythonText.truncated(PythonText.dumps($0), to: 80) }
        let location = location(issue.location)
        let message = issue.message
        /// `<loc> got <value><separator><detail>`, or `<loc><detail>` without a value.
        func item(_ detail: String, separator: String = " ") -> String {
            if let got { return "\(location) got \(got)\(separator)\(detail)" }
            return "\(location)\(separator == ": " ? ": " : " ")\(detail)"
        }
        if type == "missing" { return (.missing, location) }
        if type == "extra_forbidden" { return (.extraFields, got.map { "\(location) got \($0)" } ?? location) }
        if type.hasPrefix("union_") || type == "union" { return (.unions, union(location, type, context)) }
        if Self.enumTypes.contains(type) || type.hasPrefix("literal_") || type.hasPrefix("enum_") {
            let expected = (context["expected"] ?? context["allowed_values"] ?? context["permitted"]).map(PythonText.joined)
            if let expected, !expected.isEmpty {
                return (.enumMismatches, got.map { "\(location) got \($0); \(label("allowed_values")): \(expected)" }
                    ?? "\(location) \(label("allowed_values")): \(expected)")
            }
            return (.enumMismatches, message.isEmpty ? location : item(message, separator: ": "))
        }
        if Self.constraintTypes.contains(type) {
            let constraint = constraint(location, type, context)
            return (.constraints, got.map { "\(location) got \($0) (\(constraint))" } ?? constraint)
        }
        let isFormat = Self.formatTypes.contains(type)
        if isFormat || Self.typeTypes.contains(type) || type.hasSuffix("_type") || type.hasSuffix("_parsing") {
            let section: Section = isFormat ? .formats : .typeMismatches
            if let expected = Self.expectedType(type) { return (section, item("\(label("expected")) \(expected)")) }
            return (section, message.isEmpty ? location : item(message, separator: ": "))
        }
        return (.other, message.isEmpty ? location : "\(location): \(message)")
    }

    /// `"a.b[0]" field` for a location with a key, `[0]` for indexes only, the root label for none.
    private func location(_ path: [ValidationIssue.PathElement]) -> String {
        guard !path.isEmpty else { return label("root") }
        var parts: [String] = []
        var hasField = false
        for element in path {
            switch element {
            case .key(let key):
                hasField = true
                parts.append(key)
            case .index(let index):
                if let last = parts.popLast() { parts.append("\(last)[\(index)]") } else { parts.append("[\(index)]") }
            }
        }
        let joined = parts.joined(separator: ".")
        return hasField ? "\"\(joined)\" field" : joined
    }

    private func constraint(_ location: String, _ type: String, _ context: [String: JSONValue]) -> String {
        func value(_ key: String) -> String? { context[key].map(PythonText.str) }
        switch type {
        case "string_too_short", "too_short", "bytes_too_short":
            if let length = value("min_length") { return "\(location) \(label("min_length")): \(length)" }
            if let items = value("min_items") { return "\(location) \(label("min_items")): \(items)" }
        case "string_too_long", "too_long", "bytes_too_long":
            if let length = value("max_length") { return "\(location) \(label("max_length")): \(length)" }
            if let items = value("max_items") { return "\(location) \(label("max_items")): \(items)" }
        case "string_pattern_mismatch":
            if let pattern = value("pattern"), !pattern.isEmpty { return "\(location) \(label("must_match_pattern")): \(pattern)" }
        case "greater_than": if let bound = value("gt") { return "\(location) > \(bound)" }
        case "greater_than_equal": if let bound = value("ge") { return "\(location) >= \(bound)" }
        case "less_than": if let bound = value("lt") { return "\(location) < \(bound)" }
        case "less_than_equal": if let bound = value("le") { return "\(location) <= \(bound)" }
        case "multiple_of": if let factor = value("multiple_of") { return "\(location) \(label("multiple_of")): \(factor)" }
        case "finite_number": return "\(location) \(label("finite_number"))"
        default: break
        }
        // Python: f"{loc}: {message}".rstrip(": ").strip() or loc
        let text = "\(location): \(value("error") ?? "")".trimmingSuffix(of: ": ").trimmingWhitespace()
        return text.isEmpty ? location : text
    }

    private func union(_ location: String, _ type: String, _ context: [String: JSONValue]) -> String {
        let tags = (context["expected_tags"] ?? context["expected"]).map(PythonText.joined)
        let detail =
            switch type {
            case "union_tag_not_found": label("union_tag_missing")
            case "union_tag_invalid": label("union_tag_invalid")
            default: label("union_no_match")
            }
        if let tags, !tags.isEmpty { return "\(location) \(detail) (\(label("expected_one_of")) \(tags))" }
        return "\(location) \(detail)"
    }

    /// The type an error type expects (`int_type` → `integer`), if it names one.
    static func expectedType(_ type: String) -> String? {
        if let name = typeNames[type] { return name }
        if type.hasSuffix("_type") { return String(type.dropLast("_type".count)).nonEmpty }
        if type.hasSuffix("_parsing") { return String(type.dropLast("_parsing".count)).nonEmpty }
        return nil
    }

    private static let enumTypes: Set<String> = ["literal_error", "enum", "enum_error", "enum_values"]
    private static let constraintTypes: Set<String> = [
        "string_too_short", "string_too_long", "too_short", "too_long", "greater_than", "greater_than_equal", "less_than",
        "less_than_equal", "multiple_of", "finite_number", "string_pattern_mismatch", "bytes_too_short", "bytes_too_long",
        "byte_size", "decimal_max_digits", "decimal_max_places", "decimal_whole_digits", "date_too_early", "date_too_late",
        "datetime_too_early", "datetime_too_late",
    ]
    private static let formatTypes: Set<String> = [
        "date_parsing", "datetime_parsing", "time_parsing", "duration_parsing", "uuid_parsing", "url_parsing", "email_parsing",
        "ip_any_address", "ip_v4_address", "ip_v6_address", "json_invalid", "json_type",
    ]
    private static let typeTypes: Set<String> = [
        "string_type", "bytes_type", "bytes_parsing", "int_type", "int_parsing", "float_type", "float_parsing", "bool_type",
        "bool_parsing", "list_type", "set_type", "tuple_type", "dict_type", "mapping_type", "model_type", "dataclass_type",
    ]
    private static let typeNames: [String: String] = [
        "string_type": "string", "bytes_type": "bytes", "bytes_parsing": "bytes", "int_type": "integer", "int_parsing": "integer",
        "float_type": "number", "float_parsing": "number", "bool_type": "boolean", "bool_parsing": "boolean", "list_type": "list",
        "set_type": "set", "tuple_type": "tuple", "dict_type": "object", "mapping_type": "object", "model_type": "object",
        "dataclass_type": "object", "date_parsing": "date", "datetime_parsing": "datetime", "time_parsing": "time",
        "duration_parsing": "duration", "uuid_parsing": "uuid", "url_parsing": "url", "email_parsing": "email",
    ]
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }

    /// Drops every trailing character that is in `characters` (Python's `rstrip(chars)`).
    fileprivate func trimmingSuffix(of characters: String) -> String {
        var scalars = Substring(self).unicodeScalars
        while let last = scalars.last, characters.unicodeScalars.contains(last) { scalars.removeLast() }
        return String(scalars)
    }

    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
