import ActyCore

/// A small deterministic generator (SplitMix64), so random tests replay identically.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static let characters: [Character] = Array("aZ09 _-\"\\/\n\t\r\u{0}\u{1}\u{8}\u{C}\u{1F}\u{7F}é漢😀👍🏽\u{FFFD}")

    mutating func jsonValue(depth: Int) -> JSONValue {
        let kind = Int.random(in: 0..<(depth < 4 ? 8 : 6), using: &self)
        switch kind {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &self))
        case 2: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &self)))
        case 3:
            let value = Double(bitPattern: next())
            return .number(value.isFinite ? value : Double.random(in: -1e6...1e6, using: &self))
        case 4, 5: return .string(string())
        case 6: return .array((0..<Int.random(in: 0...5, using: &self)).map { _ in jsonValue(depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &self) {
                members[string()] = jsonValue(depth: depth + 1)
            }
            return .object(members)
        }
    }

    private mutating func string() -> String {
        String((0..<Int.random(in: 0...12, using: &self)).map { _ in Self.characters.randomElement(using: &self)! })
    }
}
