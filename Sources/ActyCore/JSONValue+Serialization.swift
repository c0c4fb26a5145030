// Hand-rolled JSON writer working on UTF-8 bytes: payloads are serialized on the hot path of the queue, where
// `JSONEncoder` and its intermediate boxes would dominate the cost of a job.

extension JSONValue {
    /// The value as compact JSON text, with object keys sorted so equal values always give identical text.
    ///
    /// Strings are escaped per RFC 8259 (`"`, `\`, and control characters; other characters are written as UTF-8).
    /// Integral numbers below 2^53 in magnitude are written without a fraction (`3`, and `-0` as `0`); other
    /// numbers use Swift's shortest round-trip form (`0.1`, `1e+300`). Non-finite numbers are written as `null`.
    ///
    /// ```swift
    /// let value: JSONValue = ["b": 1, "a": [true, nil]]
    /// let text = value.jsonString  // {"a":[true,null],"b":1}
    /// ```
    public var jsonString: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        writeJSON(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the compact JSON text of the value to a byte buffer, as UTF-8.
    ///
    /// This is the fast path behind ``jsonString``: callers that write many values (an event log, a batch insert)
    /// reuse one buffer and avoid building a `String` per value. The output is the same as ``jsonString``.
    ///
    /// - Parameter buffer: The buffer to append to; its existing contents are kept.
    public func writeJSON(into buffer: inout [UInt8]) {
        let start = buffer.count
        if JSONWriter.appendShallow(self, to: &buffer, levelsLeft: JSONWriter.recursionLimit, finiteOnly: false) { return }
        buffer.removeSubrange(start...)
        var walker = JSONTreeWalker()
        walker.walk(self) { token, _ in JSONWriter.append(token, to: &buffer) }
    }

    /// The compact JSON text of the value (the same as ``jsonString``) when JSON text can hold it exactly and the
    /// parser reads it back; otherwise an error naming the first problem: a non-finite number, or nesting deeper
    /// than ``maximumParsingDepth``.
    ///
    /// This is what a value must pass to be stored: what ``jsonString`` writes for such values (`null` for a NaN,
    /// text too deep to parse) would not read back as the same value.
    ///
    /// - Throws: ``UnstorableJSONError``.
    public func storableJSONString() throws(UnstorableJSONError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        if !JSONWriter.appendShallow(self, to: &bytes, levelsLeft: JSONWriter.recursionLimit, finiteOnly: true) {
            bytes.removeAll(keepingCapacity: true)
            try writeStorableJSON(into: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The slow path of ``storableJSONString()``: a walk that tracks depth and path.
    private func writeStorableJSON(into bytes: inout [UInt8]) throws(UnstorableJSONError) {
        var walker = JSONTreeWalker()
        do {
            try walker.walk(self) { token, walker throws(UnstorableJSONError) in
                switch token {
                case .open where walker.depth >= JSONValue.maximumParsingDepth:
                    throw UnstorableJSONError(problem: .tooDeep(depth: walker.depth + 1))
                case .scalar(.number(let number)) where !number.isFinite:
                    throw UnstorableJSONError(problem: .nonFiniteNumber(path: walker.path))
                default:
                    JSONWriter.append(token, to: &bytes)
                }
            }
        } catch {
            // Report how deep the whole value goes, not where the walk stopped.
            guard case .tooDeep = error.problem else { throw error }
            throw UnstorableJSONError(problem: .tooDeep(depth: nestingDepth))
        }
    }

    /// Appends the compact JSON text of the value to a string; the output is the same as ``jsonString``.
    ///
    /// - Parameter string: The string to append to; its existing contents are kept.
    public func writeJSON(into string: inout String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        writeJSON(into: &bytes)
        string.append(String(decoding: bytes, as: UTF8.self))
    }
}

/// Byte-level helpers of the JSON writer.
enum JSONWriter {
    /// 2^53: below this magnitude every integer is exactly representable and printed as one.
    private static let exactIntegerLimit: Double = 9_007_199_254_740_992

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// How many levels the recursive fast path writes before it leaves the value to a walk.
    static let recursionLimit = 32

    /// Writes the value by recursion, the fast path for the shallow values jobs carry. Returns `false`, having written
    /// part of the value, when it nests more than `levelsLeft` levels or, with `finiteOnly`, holds a non-finite
    /// number: the caller then starts over with a walk.
    static func appendShallow(_ value: JSONValue, to buffer: inout [UInt8], levelsLeft: Int, finiteOnly: Bool) -> Bool {
        switch value {
        case .number(let number) where finiteOnly && !number.isFinite:
            return false
        case .null, .bool, .number, .string:
            appendScalar(value, to: &buffer)
        case .array(let elements):
            guard levelsLeft > 0 else { return false }
            buffer.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                guard appendShallow(element, to: &buffer, levelsLeft: levelsLeft - 1, finiteOnly: finiteOnly) else { return false }
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let members):
            guard levelsLeft > 0 else { return false }
            buffer.append(UInt8(ascii: "{"))
            for (index, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                appendString(member.key, to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                guard appendShallow(member.value, to: &buffer, levelsLeft: levelsLeft - 1, finiteOnly: finiteOnly) else { return false }
            }
            buffer.append(UInt8(ascii: "}"))
        }
        return true
    }

    /// Writes one token of a walk.
    static func append(_ token: JSONTreeWalker.Token, to buffer: inout [UInt8]) {
        switch token {
        case .scalar(let value): appendScalar(value, to: &buffer)
        case .open(let isObject): buffer.append(isObject ? UInt8(ascii: "{") : UInt8(ascii: "["))
        case .comma: buffer.append(UInt8(ascii: ","))
        case .key(let key):
            appendString(key, to: &buffer)
            buffer.append(UInt8(ascii: ":"))
        case .close(let isObject): buffer.append(isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    /// Writes `null`, a boolean, a number or a string; containers are written token by token.
    static func appendScalar(_ value: JSONValue, to buffer: inout [UInt8]) {
        switch value {
        case .array, .object: preconditionFailure("containers are written token by token")
        case .null: appendASCII("null", to: &buffer)
        case .bool(let value): appendASCII(value ? "true" : "false", to: &buffer)
        case .number(let value): appendNumber(value, to: &buffer)
        case .string(let value): appendString(value, to: &buffer)
        }
    }

    static func appendASCII(_ text: StaticString, to buffer: inout [UInt8]) {
        text.withUTF8Buffer { buffer.append(contentsOf: $0) }
    }

    static func appendNumber(_ value: Double, to buffer: inout [UInt8]) {
        guard value.isFinite else {
            appendASCII("null", to: &buffer)
            return
        }
        if value.magnitude < exactIntegerLimit, value.rounded(.towardZero) == value {
            appendInteger(Int64(value), to: &buffer)
        } else {
            // Swift's `description` is the shortest text that parses back to the same `Double`, and for finite
            // values it is always valid JSON (`1e+300`, `5e-324`, `0.1`).
            buffer.append(contentsOf: value.description.utf8)
        }
    }

    static func appendInteger(_ value: Int64, to buffer: inout [UInt8]) {
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let start = buffer.count
        repeat {
            buffer.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        buffer[start...].reverse()
    }

    static func appendString(_ string: String, to buffer: inout [UInt8]) {
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { appendEscaped($0, to: &buffer) }
        if done == nil {
            var contiguous = string
            contiguous.withUTF8 { appendEscaped($0, to: &buffer) }
        }
    }

    /// Writes `"…"` around the bytes, copying runs that need no escape in one go.
    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to buffer: inout [UInt8]) {
        buffer.reserveCapacity(buffer.count + bytes.count + 2)
        buffer.append(UInt8(ascii: "\""))
        var runStart = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < index {
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            }
            runStart = index + 1
            buffer.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""): buffer.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\n"): buffer.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\t"): buffer.append(UInt8(ascii: "t"))
            case UInt8(ascii: "\r"): buffer.append(UInt8(ascii: "r"))
            case 0x08: buffer.append(UInt8(ascii: "b"))
            case 0x0C: buffer.append(UInt8(ascii: "f"))
            default:
                appendASCII("u00", to: &buffer)
                buffer.append(hexDigits[Int(byte >> 4)])
                buffer.append(hexDigits[Int(byte & 0xF)])
            }
        }
        if runStart < bytes.count {
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        buffer.append(UInt8(ascii: "\""))
    }
}
