// Hand-rolled RFC 8259 parser working on UTF-8 bytes: payloads are parsed on the hot path of the queue, where
// `JSONSerialization` and its `NSObject` boxes would dominate the cost of a job.

extension JSONValue {
    /// The deepest nesting of arrays and objects the parser accepts; deeper input is rejected with an error
    /// instead of exhausting the stack.
    public static let maximumParsingDepth = 512

    /// Parses JSON text.
    ///
    /// The parser implements RFC 8259 strictly: one value surrounded by optional whitespace, no comments, no
    /// trailing commas, no leading zeros or `+` signs on numbers, valid UTF-8 and valid surrogate pairs in strings.
    /// When an object repeats a key, the last value wins. Nesting deeper than ``maximumParsingDepth`` is an error.
    ///
    /// ```swift
    /// let payload = try JSONValue(jsonString: #"{"to": "ada@example.com", "retries": 3}"#)
    /// payload["retries"]?.intValue  // 3
    /// ```
    ///
    /// - Parameter jsonString: The JSON text.
    /// - Throws: ``JSONParseError`` with the byte offset of the first problem.
    public init(jsonString: String) throws(JSONParseError) {
        let result = jsonString.utf8.withContiguousStorageIfAvailable { bytes in
            Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
        }
        if let result {
            self = try result.get()
        } else {
            var contiguous = jsonString
            self = try contiguous.withUTF8 { bytes in
                Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
            }.get()
        }
    }

    /// Parses JSON text given as UTF-8 bytes, such as a database blob or `Data` read from a file.
    ///
    /// Contiguous collections (`[UInt8]`, `Data`, buffer slices) are parsed in place; other collections are copied
    /// once. See ``init(jsonString:)`` for the accepted grammar.
    ///
    /// - Parameter jsonUTF8: The UTF-8 encoded JSON text.
    /// - Throws: ``JSONParseError`` with the byte offset of the first problem.
    public init(jsonUTF8: some Collection<UInt8>) throws(JSONParseError) {
        let result = jsonUTF8.withContiguousStorageIfAvailable { bytes in
            Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
        }
        if let result {
            self = try result.get()
        } else {
            self = try Array(jsonUTF8).withUnsafeBufferPointer { bytes in
                Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
            }.get()
        }
    }
}
