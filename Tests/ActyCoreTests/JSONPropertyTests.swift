import ActyCore
import ActyTestSupport
import Testing

/// Seeded random values and texts: every value the generator makes (deep, wide, unicode, escapes, edge numbers)
/// survives serialize → parse unchanged, and no mutation of valid text crashes the parser.
struct JSONPropertyTests {
    @Test(arguments: 0..<200)
    func randomValuesRoundTripThroughStorableText(seed: Int) throws {
        var random = SplitMix64(seed: UInt64(seed) &+ 0x5EED)
        let value = random.jsonValue()
        let text = try value.storableJSONString()
        #expect(text == value.jsonString)
        let parsed = try JSONValue(jsonString: text)
        #expect(parsed == value)
        #expect(parsed.hashValue == value.hashValue)
        #expect(parsed.jsonString == text)
        #expect(parsed.nestingDepth == value.nestingDepth)
    }

    @Test(arguments: 0..<100)
    func mutatedTextParsesOrThrowsAParseError(seed: Int) throws {
        var random = SplitMix64(seed: UInt64(seed) &+ 0xBAD)
        let valid = Array(random.jsonValue(maxDepth: 8).jsonString.utf8)
        for _ in 0..<50 {
            let bytes = mutate(valid, using: &random)
            let value: JSONValue
            do {
                value = try JSONValue(jsonUTF8: bytes)
            } catch {
                #expect((0...bytes.count).contains(error.offset), "offset \(error.offset) of \(bytes.count) bytes")
                continue
            }
            // Whatever parses is storable and reads back the same.
            #expect(try JSONValue(jsonString: try value.storableJSONString()) == value)
        }
    }

    /// Bytes that change the meaning of JSON text the most.
    private static let interestingBytes: [UInt8] = Array(#"{}[]",:\-+.0123456789eEtrufalsn u"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xED, 0xF4, 0xFF]

    private func mutate(_ bytes: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let index = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty: bytes[index] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
            case 1: bytes.insert(Self.interestingBytes.randomElement(using: &random)!, at: index)
            case 2 where !bytes.isEmpty: bytes.removeSubrange(index..<min(bytes.count, index + Int.random(in: 1...8, using: &random)))
            case 3 where !bytes.isEmpty: bytes.insert(contentsOf: bytes[index..<min(bytes.count, index + 16)], at: Int.random(in: 0...bytes.count, using: &random))
            case 4: bytes = Array(bytes.prefix(index))
            default: bytes.insert(contentsOf: Array(random.string().utf8), at: index)
            }
        }
        return bytes
    }
}
