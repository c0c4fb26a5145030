import ActyCore
import ActyTestSupport
import Testing

struct JSONParsingTests {
    // MARK: - Valid input

    static let validCases: [(String, JSONValue)] = [
        ("null", JSONValue.null),
        (" \t\r\n true \n", true),
        ("false", false),
        ("0", 0),
        ("-12", -12),
        ("1E2", 100),
        ("1e-2", 0.01),
        ("-1.5e+3", -1500),
        ("123.456e-7", 123.456e-7),
        ("0.1", 0.1),
        ("1e-400", 0),
        ("5e-324", .number(.leastNonzeroMagnitude)),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("9007199254740993", 9_007_199_254_740_992),
        ("12345678901234567890", .number(12_345_678_901_234_567_890.0)),
        (#""""#, ""),
        (#""a\"b\\c\/d\b\f\n\r\t""#, "a\"b\\c/d\u{8}\u{C}\n\r\t"),
        (#""\u00e9\u00C9\u0000\u6f22""#, "éÉ\u{0}漢"),
        (#""\ud83d\ude00 x""#, "😀 x"),
        (#""é 😀 raw""#, "é 😀 raw"),
        ("[]", []),
        ("[ ]", []),
        ("{ }", [:]),
        (#"[1, [2, [3, []]], {"a": {}}]"#, [1, [2, [3, []]], ["a": [:]]]),
        (#" { "b" : [ true , null ] , "a" : "x" } "#, ["a": "x", "b": [true, nil]]),
        (#"{"a": 1, "a": 2}"#, ["a": 2]),
    ]

    @Test(arguments: validCases)
    func parsesValidText(text: String, expected: JSONValue) throws {
        #expect(try JSONValue(jsonString: text) == expected)
        #expect(try JSONValue(jsonUTF8: Array(text.utf8)) == expected)
    }

    @Test func parsesNegativeZeroWithItsSign() throws {
        let value = try JSONValue(jsonString: "-0")
        #expect(value.doubleValue?.sign == .minus)
    }

    @Test func parsesFromNonContiguousCollections() throws {
        let bytes = Array(#"{"a":[1,2]}"#.utf8)
        let lazy = bytes.lazy.map { $0 }
        #expect(try JSONValue(jsonUTF8: lazy) == ["a": [1, 2]])
        #expect(try JSONValue(jsonUTF8: bytes[1..<10].dropFirst(4)) == [1, 2])
    }

    @Test func acceptsNestingUpToTheMaximumDepth() throws {
        let depth = JSONValue.maximumParsingDepth
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try JSONValue(jsonString: text)
        var levels = 1
        while let inner = value.arrayValue?.first {
            value = inner
            levels += 1
        }
        #expect(levels == depth)
    }

    /// Every fast-path number must agree with the standard library's correctly rounded conversion.
    @Test func numbersMatchTheStandardLibraryConversion() throws {
        var random = SplitMix64(seed: 42)
        var texts = ["0.3", "2.2250738585072014e-308", "4.9406564584124654e-324", "0.1e1", "100e-2", "9007199254740991.5"]
        for _ in 0..<2000 {
            let integer = random.next() % 10_000_000_000
            let fraction = random.next() % 1_000_000
            let exponent = Int(random.next() % 60) - 30
            texts.append("\(integer).\(fraction)e\(exponent)")
            texts.append("-\(random.next() % 100_000)e\(Int(random.next() % 50) - 25)")
        }
        for text in texts {
            #expect(try JSONValue(jsonString: text).doubleValue == Double(text), "\(text)")
        }
    }

    // MARK: - Invalid input

    static let invalidCases: [(String, Int, String)] = [
        ("", 0, "unexpected end of input"),
        ("   ", 3, "unexpected end of input"),
        ("tru", 0, "expected a value"),
        ("nul", 0, "expected a value"),
        ("True", 0, "expected a value"),
        ("NaN", 0, "expected a value"),
        ("'a'", 0, "expected a value"),
        ("// comment\n1", 0, "expected a value"),
        ("\u{FEFF}1", 0, "expected a value"),
        ("01", 1, "leading zeros"),
        ("-01", 2, "leading zeros"),
        ("+1", 0, "expected a value"),
        (".5", 0, "expected a value"),
        ("1.", 2, "after the decimal point"),
        ("1.e5", 2, "after the decimal point"),
        ("1e", 2, "exponent"),
        ("1e+", 3, "exponent"),
        ("-", 1, "expected a digit"),
        ("-a", 1, "expected a digit"),
        ("1e400", 0, "too large"),
        ("-1e400", 0, "too large"),
        ("[1,]", 3, "expected a value"),
        ("[1 2]", 3, "expected ',' or ']' in array"),
        ("[1,2", 4, "unexpected end of input, expected ',' or ']' in array"),
        (#"{"a":1,}"#, 7, "expected a string key"),
        (#"{"a" 1}"#, 5, "expected ':'"),
        (#"{"a":1 "b":2}"#, 7, "expected ',' or '}' in object"),
        (#"{"a":1"#, 6, "unexpected end of input"),
        ("{1:2}", 1, "expected a string key"),
        (#""abc"#, 4, "unterminated string"),
        (#""a\"#, 3, "unterminated string"),
        (#""a\x""#, 2, "invalid escape"),
        (#""\u12""#, 5, "hex digits"),
        (#""\uZZZZ""#, 3, "hex digits"),
        (#""\uD800""#, 1, "unpaired surrogate"),
        (#""\uDC00""#, 1, "unpaired surrogate"),
        (#""\uD800\u0041""#, 1, "unpaired surrogate"),
        (#""\uD800x""#, 1, "unpaired surrogate"),
        ("\"a\nb\"", 2, "control character"),
        ("\"a\\n\tb\"", 4, "control character"),
        ("[1] x", 4, "unexpected data after JSON value"),
        ("1 2", 2, "unexpected data after JSON value"),
        ("{}{}", 2, "unexpected data after JSON value"),
    ]

    @Test(arguments: invalidCases)
    func rejectsInvalidText(text: String, offset: Int, message: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue(jsonString: text) }
        #expect(error?.offset == offset)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
    }

    @Test(arguments: [
        ([0x22, 0xFF, 0x22] as [UInt8], 1),
        ([0x5B, 0x22, 0x61, 0xC3, 0x22, 0x5D], 2),
        ([0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22], 1),
        ([0x22, 0xC0, 0x80, 0x22], 1),
        ([0x22, 0xE0, 0x80, 0x80, 0x22], 1),
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1),
        ([0x22, 0xF0, 0x9F, 0x98, 0x22], 1),
        ([0x22, 0x61, 0x80, 0x22], 1),
    ])
    func rejectsInvalidUTF8InStrings(bytes: [UInt8], offset: Int) {
        let error = #expect(throws: JSONParseError.self) { try JSONValue(jsonUTF8: bytes) }
        #expect(error?.offset == offset)
        #expect(error?.message == "invalid UTF-8 in string")
    }

    @Test func rejectsNestingBeyondTheMaximumDepth() {
        let depth = JSONValue.maximumParsingDepth + 1
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let error = #expect(throws: JSONParseError.self) { try JSONValue(jsonString: text) }
        #expect(error?.offset == depth - 1)
        #expect(error?.message.contains("nesting") == true)
    }

    @Test func describesErrorsWithTheirByteOffset() {
        let error = #expect(throws: JSONParseError.self) { try JSONValue(jsonString: #"{"id": 1 "name": "x"}"#) }
        #expect(error?.description == "invalid JSON at byte 9: expected ',' or '}' in object")
    }

    // MARK: - Round trips

    static let roundTripValues: [JSONValue] = [
        JSONValue.null, true, false, 0, -1, 42, 0.5, -0.125, 1e-7, 3.141592653589793, 1e300, -1e-300, .number(.leastNonzeroMagnitude),
        .number(.greatestFiniteMagnitude), 9_007_199_254_740_992, 123_456_789_012_345_678,
        "", "plain", "quote \" backslash \\ slash /", "\n\r\t\u{8}\u{C}\u{0}\u{1F}\u{7F}", "é漢字😀👩‍👩‍👧", "\u{FFFF}\u{10FFFF}",
        [], [:], [[]], [[:]], [nil, true, 1, "x", [2], ["k": 3]],
        ["": "empty key", "é": 1, "😀": [1, 2], "nested": ["a": ["b": ["c": [1, [2, [3]]]]]]],
    ]

    @Test(arguments: roundTripValues)
    func serializedTextParsesBackToTheSameValue(value: JSONValue) throws {
        let text = value.jsonString
        let parsed = try JSONValue(jsonString: text)
        #expect(parsed == value, "\(text)")
        #expect(parsed.jsonString == text)
    }

    @Test(arguments: 0..<300)
    func randomValuesRoundTrip(seed: Int) throws {
        var random = SplitMix64(seed: UInt64(seed))
        let value = random.jsonValue(depth: 0)
        let text = value.jsonString
        let parsed = try JSONValue(jsonString: text)
        #expect(parsed == value, "\(text)")
        #expect(parsed.jsonString == text)
        #expect(try JSONValue(jsonUTF8: Array(text.utf8)) == value)
    }
}
