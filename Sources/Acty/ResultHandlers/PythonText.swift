/// Python's renderings of values, which the repair texts ported from Python acty quote: `json.dumps`, `str`,
/// `repr` of a string, and truncation by characters (Unicode scalars, as Python counts them).
enum PythonText {
    /// `json.dumps(value, ensure_ascii=True)`: `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`, object keys
    /// sorted (a `JSONValue` object has no order of its own). Integral numbers print as integers, as JSON integers
    /// parse in Python.
    static func dumps(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let bool): return bool ? "true" : "false"
        case .number(let number): return self.number(number)
        case .string(let string): return quoted(string)
        case .array(let items): return "[" + items.map(dumps).joined(separator: ", ") + "]"
        case .object(let members):
            return "{" + members.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(dumps($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    /// `str(value)`: strings as they are, `True`/`False`/`None`, numbers as Python prints them.
    static func str(_ value: JSONValue) -> String {
        switch value {
        case .null: "None"
        case .bool(let bool): bool ? "True" : "False"
        case .number(let number): self.number(number)
        case .string(let string): string
        case .array, .object: dumps(value)
        }
    }

    /// A list's items as `", ".join(str(item) …)`; any other value as `str(value)`.
    static func joined(_ value: JSONValue) -> String {
        if case .array(let items) = value { return items.map(str).joined(separator: ", ") }
        return str(value)
    }

    /// `repr(text)`: single quotes, or double quotes when the text holds a single quote and no double quote.
    static func repr(_ text: String) -> String {
        let quote: Character = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var result = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where Character(scalar) == quote: result += "\\\(quote)"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: result += "\\x" + hex(scalar.value, digits: 2)
            default: result.unicodeScalars.append(scalar)
            }
        }
        result.append(quote)
        return result
    }

    /// `text[:limit - 3] + "..."` when `text` has more than `limit` characters (Unicode scalars); `text` otherwise.
    static func truncated(_ text: String, to limit: Int) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return text }
        return String(String.UnicodeScalarView(scalars.prefix(limit - 3))) + "..."
    }

    private static func number(_ number: Double) -> String {
        if number.rounded() == number, abs(number) < 1e16 { return String(Int64(number)) }
        return number.description
    }

    /// A JSON string literal with every non-ASCII character escaped, as `ensure_ascii` writes it.
    private static func quoted(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case _ where scalar.value < 0x20 || scalar.value > 0x7E:
                for unit in String(scalar).utf16 { result += "\\u" + hex(UInt32(unit), digits: 4) }
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
