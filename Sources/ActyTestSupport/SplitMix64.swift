public import ActyCore

/// A small deterministic generator (SplitMix64), so random tests replay identically.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static let characters: [Character] = Array("aZ09 _-\"\\/\n\t\r\u{0}\u{1}\u{8}\u{C}\u{1F}\u{7F}é漢😀👍🏽\u{FFFD}\u{2028}\u{10FFFF}e\u{301}")

    /// Numbers at the edges of what `Double` and JSON text hold.
    private static let edgeNumbers: [Double] = [
        0, -0.0, 1, -1, 0.1, 1e-7, 1e21, 1e300, -1e-300, 9_007_199_254_740_991, 9_007_199_254_740_992, 9_007_199_254_740_994,
        -9_007_199_254_740_994, 18_446_744_073_709_551_616, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
        .leastNormalMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .pi, 123_456.789e-3,
    ]

    /// A random value: any mix of scalars, unicode and escaped characters, edge numbers, wide containers and
    /// chains of containers, nested at most `maxDepth` levels (``JSONValue/nestingDepth``).
    public mutating func jsonValue(maxDepth: Int = JSONValue.maximumParsingDepth) -> JSONValue {
        jsonValue(depth: 0, maxDepth: maxDepth)
    }

    /// A random value as it would be found `depth` levels down in a value nested at most `maxDepth` levels.
    public mutating func jsonValue(depth: Int, maxDepth: Int = JSONValue.maximumParsingDepth) -> JSONValue {
        let canNest = depth < maxDepth
        let kind = Int.random(in: 0..<(canNest ? (depth < 4 ? 12 : 9) : 7), using: &self)
        switch kind {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &self))
        case 2: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &self)))
        case 3:
            let value = Double(bitPattern: next())
            return .number(value.isFinite ? value : Double.random(in: -1e6...1e6, using: &self))
        case 4: return .number(Self.edgeNumbers.randomElement(using: &self)!)
        case 5, 6: return .string(string())
        case 7:
            // A chain of single-element containers, down to a scalar or to the depth limit.
            let length = Int.random(in: 1...(maxDepth - depth), using: &self)
            var value = jsonValue(depth: depth + length, maxDepth: maxDepth)
            for _ in 0..<length { value = Bool.random(using: &self) ? [value] : [string(): value] }
            return value
        case 8, 9: return .array((0..<Int.random(in: 0...5, using: &self)).map { _ in jsonValue(depth: depth + 1, maxDepth: maxDepth) })
        case 10: return .array((0..<Int.random(in: 50...300, using: &self)).map { _ in jsonValue(depth: maxDepth, maxDepth: maxDepth) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &self) {
                members[string()] = jsonValue(depth: depth + 1, maxDepth: maxDepth)
            }
            return .object(members)
        }
    }

    /// A short random string of letters, escapes, control characters and multi-byte characters.
    public mutating func string() -> String {
        String((0..<Int.random(in: 0...12, using: &self)).map { _ in Self.characters.randomElement(using: &self)! })
    }
}
