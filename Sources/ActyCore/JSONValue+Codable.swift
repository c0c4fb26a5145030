import Foundation

// `Codable` lets users embed a `JSONValue` inside their own `Codable` types (an untyped "extra" field, say),
// and the bridging helpers convert between a typed value and its JSON tree.

extension JSONValue: Codable {
    /// Decodes any JSON-shaped value: `null`, booleans, numbers (from `Double` or `Int`), strings, arrays and
    /// objects with arbitrary keys.
    ///
    /// - Throws: `DecodingError.dataCorrupted` when the decoder holds something that is none of these, or arrays
    ///   and objects nested deeper than ``maximumParsingDepth``.
    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.singleValueContainer() {
            if container.decodeNil() {
                self = .null
                return
            }
            if let value = try? container.decode(Bool.self) {
                self = .bool(value)
                return
            }
            if let value = try? container.decode(Double.self) {
                self = .number(value)
                return
            }
            if let value = try? container.decode(Int.self) {
                self = .number(Double(value))
                return
            }
            if let value = try? container.decode(String.self) {
                self = .string(value)
                return
            }
        }
        // Each nested container is one more call of this initializer: stop before the stack runs out.
        guard decoder.codingPath.count < Self.maximumParsingDepth else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath, debugDescription: "Nesting is deeper than \(Self.maximumParsingDepth) levels"
                )
            )
        }
        if let container = try? decoder.container(keyedBy: JSONCodingKey.self) {
            var members: [String: JSONValue] = [:]
            members.reserveCapacity(container.allKeys.count)
            for key in container.allKeys {
                members[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
            }
            self = .object(members)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            if let count = container.count {
                elements.reserveCapacity(count)
            }
            while !container.isAtEnd {
                elements.append(try container.decode(JSONValue.self))
            }
            self = .array(elements)
            return
        }
        throw DecodingError.dataCorrupted(
            DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "Value is not representable as JSON")
        )
    }

    /// Encodes the value with the matching container. Object members are encoded in sorted key order, and non-finite
    /// numbers are encoded as `nil`, exactly as ``jsonString`` writes them.
    ///
    /// - Throws: `EncodingError.invalidValue` when arrays and objects nest deeper than ``maximumParsingDepth``,
    ///   counting the containers of the types around this value.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .number(let value):
            var container = encoder.singleValueContainer()
            if value.isFinite {
                try container.encode(value)
            } else {
                try container.encodeNil()
            }
        case .string(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .array where encoder.codingPath.count >= Self.maximumParsingDepth,
            .object where encoder.codingPath.count >= Self.maximumParsingDepth:
            // Each nested container is one more call of this method: stop before the stack runs out.
            throw EncodingError.invalidValue(
                self,
                EncodingError.Context(codingPath: encoder.codingPath, debugDescription: "Nesting is deeper than \(Self.maximumParsingDepth) levels")
            )
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements {
                try container.encode(element)
            }
        case .object(let members):
            var container = encoder.container(keyedBy: JSONCodingKey.self)
            for key in members.keys.sorted() {
                try container.encode(members[key]!, forKey: JSONCodingKey(stringValue: key))
            }
        }
    }
}

extension JSONValue {
    /// Creates the JSON tree of an `Encodable` value, such as a job's typed payload.
    ///
    /// The value goes through `JSONEncoder` with its default strategies, so `Date` becomes seconds since 2001 and
    /// `Data` becomes Base64, exactly as ``decode(_:)`` expects to read them back.
    ///
    /// ```swift
    /// struct SendEmail: Codable { var to: String; var attempts: Int }
    /// let payload = try JSONValue(encoding: SendEmail(to: "ada@example.com", attempts: 1))
    /// ```
    ///
    /// - Parameter value: The value to encode.
    /// - Throws: `EncodingError` when `JSONEncoder` rejects the value (a non-finite `Double`, for instance).
    public init<T: Encodable>(encoding value: T) throws {
        let data = try JSONEncoder().encode(value)
        self = try JSONValue(jsonUTF8: data)
    }

    /// Decodes a `Decodable` value from this JSON tree, such as a job's typed payload.
    ///
    /// Uses `JSONDecoder` with its default strategies, the inverse of ``init(encoding:)``.
    ///
    /// - Parameter type: The type to decode.
    /// - Returns: The decoded value.
    /// - Throws: `DecodingError` when the tree does not have the shape `T` expects.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        writeJSON(into: &bytes)
        return try JSONDecoder().decode(type, from: Data(bytes))
    }
}

/// A coding key for object members, whose names are only known at run time.
struct JSONCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}
