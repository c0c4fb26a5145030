import ActyCore

/// The top-level members of one JSONL line in acty's envelope, read without building a dictionary for the
/// envelope: replay of a million-event log spent most of its time hashing the eleven envelope keys into a
/// `[String: JSONValue]` per line. Each member's value is still parsed by ActyCore's strict parser (so a line that is
/// not JSON is refused exactly as before); only the object around them is walked here.
struct Envelope {
    var type: String?
    var seq: Double?
    var ts: Double?
    var timestamp: Double?
    var time: Double?
    var jobID: JSONValue?
    var groupID: JSONValue?
    var kind: JSONValue?
    var followerID: JSONValue?
    var pool: JSONValue?
    var runID: JSONValue?
    var payload: JSONValue?

    /// Reads `line`; `nil` when it is not one JSON object (or its `type` is not a string).
    init?(_ line: UnsafeBufferPointer<UInt8>) {
        var scanner = Scanner(bytes: line)
        guard scanner.members({ key, value in self.set(key, value) }), type != nil else { return nil }
    }

    /// Stores one member; returns false when its value (or an unknown key) is not valid JSON.
    private mutating func set(_ key: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let parsed = try? JSONValue(jsonUTF8: value) else { return false }
        switch Key(key) {
        case .type: type = parsed.stringValue
        case .seq: seq = parsed.doubleValue
        case .ts: ts = parsed.doubleValue
        case .timestamp: timestamp = parsed.doubleValue
        case .time: time = parsed.doubleValue
        case .jobID: jobID = parsed
        case .groupID: groupID = parsed
        case .kind: kind = parsed
        case .followerID: followerID = parsed
        case .pool: pool = parsed
        case .runID: runID = parsed
        case .payload: payload = parsed
        case .other:
            // An unknown key: still refuse the line when the key is not a valid JSON string.
            var quoted = [UInt8(ascii: "\"")]
            quoted.append(contentsOf: key)
            quoted.append(UInt8(ascii: "\""))
            return (try? JSONValue(jsonUTF8: quoted)) != nil
        }
        return true
    }

    /// The envelope's keys, matched on their raw bytes (an escaped spelling of a key counts as another key).
    enum Key {
        case type, seq, ts, timestamp, time, jobID, groupID, kind, followerID, pool, runID, payload, other

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            func matches(_ name: StaticString) -> Bool {
                name.utf8CodeUnitCount == bytes.count
                    && name.withUTF8Buffer { $0.elementsEqual(bytes) }
            }
            self = switch bytes.count {
            case 2: matches("ts") ? .ts : .other
            case 3: matches("seq") ? .seq : .other
            case 4: matches("type") ? .type : matches("time") ? .time : matches("kind") ? .kind : matches("pool") ? .pool : .other
            case 6: matches("job_id") ? .jobID : matches("run_id") ? .runID : .other
            case 7: matches("payload") ? .payload : .other
            case 8: matches("group_id") ? .groupID : .other
            case 9: matches("timestamp") ? .timestamp : .other
            case 11: matches("follower_id") ? .followerID : .other
            default: .other
            }
        }
    }

    /// Walks one object's members, finding where each key and value start and end; the values themselves are
    /// checked by the caller's parser.
    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        /// Calls `visit` with each member's key (the bytes between its quotes) and value; false when the line is not
        /// one object or `visit` refuses a member.
        mutating func members(
            _ visit: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool
        ) -> Bool {
            skipWhitespace()
            guard next(is: "{") else { return false }
            skipWhitespace()
            if next(is: "}") { return atEnd() }
            while true {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let keyEnd = stringEnd() else { return false }
                let key = UnsafeBufferPointer(rebasing: bytes[(index + 1)..<(keyEnd - 1)])
                index = keyEnd
                skipWhitespace()
                guard next(is: ":") else { return false }
                skipWhitespace()
                let start = index
                guard skipValue(), visit(key, UnsafeBufferPointer(rebasing: bytes[start..<index])) else { return false }
                skipWhitespace()
                if next(is: ",") {
                    skipWhitespace()
                    continue
                }
                return next(is: "}") && atEnd()
            }
        }

        /// Moves past one value: a string, an array or object (brackets balanced outside strings), or a scalar.
        private mutating func skipValue() -> Bool {
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                guard let end = stringEnd() else { return false }
                index = end
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < bytes.count {
                    switch bytes[index] {
                    case UInt8(ascii: "\""):
                        guard let end = stringEnd() else { return false }
                        index = end
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            return true
                        }
                    default: break
                    }
                    index += 1
                }
                return false
            default:
                let start = index
                while index < bytes.count, !Self.endsScalar(bytes[index]) { index += 1 }
                return index > start
            }
            return true
        }

        /// The index after the closing quote of the string starting at `index`.
        private func stringEnd() -> Int? {
            var position = index + 1
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: "\""): return position + 1
                case UInt8(ascii: "\\"): position += 2
                default: position += 1
                }
            }
            return nil
        }

        private static func endsScalar(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || isWhitespace(byte)
        }

        private static func isWhitespace(_ byte: UInt8) -> Bool {
            byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
        }

        private mutating func skipWhitespace() {
            while index < bytes.count, Self.isWhitespace(bytes[index]) { index += 1 }
        }

        private mutating func next(is character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        private mutating func atEnd() -> Bool {
            skipWhitespace()
            return index == bytes.count
        }
    }
}
