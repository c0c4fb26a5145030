/// A JSON document held in memory: the payload and result type of every job.
///
/// `JSONValue` is a plain, `Sendable` value tree that mirrors RFC 8259 exactly, so a job's payload can be stored,
/// compared, hashed and sent across tasks without knowing the user's Swift types. Build one with literals, convert
/// to and from text with ``jsonString`` and ``init(jsonString:)``, or bridge your own `Codable` types with
/// ``init(encoding:)`` and ``decode(_:)``:
///
/// ```swift
/// let payload: JSONValue = ["to": "ada@example.com", "retries": 3, "tags": ["welcome"]]
/// let text = payload.jsonString               // {"retries":3,"tags":["welcome"],"to":"ada@example.com"}
/// let back = try JSONValue(jsonString: text)  // == payload
/// let email = back["to"]?.stringValue         // "ada@example.com"
/// ```
///
/// Numbers are stored as `Double`, as in JavaScript: integers are exact up to 2^53. Equality and hashing follow
/// `Double` (`0` equals `-0`, `nan` equals nothing) and `String` (canonically equivalent strings are equal), and
/// object equality ignores key order.
///
/// Arrays and objects may nest up to ``maximumParsingDepth`` levels in text that is parsed or stored. A deeper value
/// built in code still serializes, compares and hashes (none of them recurse per level), but the engine refuses it.
/// Swift frees nested arrays recursively, so a value tens of thousands of levels deep can overflow a thread's stack
/// when it is freed, whatever reads it.
public enum JSONValue: Sendable, Hashable {
    /// The JSON `null` literal.
    case null
    /// A JSON `true` or `false`.
    case bool(Bool)
    /// A JSON number. Non-finite values (`nan`, `±infinity`) have no JSON spelling and serialize as `null`.
    case number(Double)
    /// A JSON string.
    case string(String)
    /// A JSON array, in order.
    case array([JSONValue])
    /// A JSON object. Keys are unordered here; serialization sorts them so the output is deterministic.
    case object([String: JSONValue])
}

extension JSONValue {
    /// The member named `key` when this value is an object that has it; `nil` otherwise.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    /// The element at `index` when this value is an array and `index` is in range; `nil` otherwise.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// The string when this value is a ``string(_:)``; `nil` otherwise.
    public var stringValue: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    /// The number when this value is a ``number(_:)``; `nil` otherwise.
    public var doubleValue: Double? {
        guard case .number(let value) = self else { return nil }
        return value
    }

    /// The number as an `Int` when it is integral and fits in `Int`; `nil` for fractions, out-of-range numbers and
    /// non-numbers.
    public var intValue: Int? {
        guard case .number(let value) = self else { return nil }
        return Int(exactly: value)
    }

    /// The boolean when this value is a ``bool(_:)``; `nil` otherwise.
    public var boolValue: Bool? {
        guard case .bool(let value) = self else { return nil }
        return value
    }

    /// The elements when this value is an ``array(_:)``; `nil` otherwise.
    public var arrayValue: [JSONValue]? {
        guard case .array(let elements) = self else { return nil }
        return elements
    }

    /// The members when this value is an ``object(_:)``; `nil` otherwise.
    public var objectValue: [String: JSONValue]? {
        guard case .object(let members) = self else { return nil }
        return members
    }

    /// Whether this value is ``null``.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
