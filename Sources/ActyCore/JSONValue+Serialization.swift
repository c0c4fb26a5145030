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
        switch self {
        case .null:
            JSONWriter.appendASCII("null", to: &buffer)
        case .bool(let value):
            JSONWriter.appendASCII(value ? "true" : "false", to: &buffer)
        case .number(let value):
            JSONWriter.appendNumber(value, to: &buffer)
        case .string(let value):
            JSONWriter.appendString(value, to: &buffer)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                element.writeJSON(into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let members):
            buffer.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                JSONWriter.appendString(key, to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                member.writeJSON(into: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
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
