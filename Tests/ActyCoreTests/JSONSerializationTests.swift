import ActyCore
import Testing

struct JSONSerializationTests {
    static let writeCases: [(JSONValue, String)] = [
        (JSONValue.null, "null"),
        (true, "true"),
        (false, "false"),
        (3, "3"),
        (-42, "-42"),
        (.number(-0.0), "0"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (-2.25e-8, "-2.25e-08"),
        (1e300, "1e+300"),
        (9_007_199_254_740_991, "9007199254740991"),
        (-9_007_199_254_740_991, "-9007199254740991"),
        (1e20, "1e+20"),
        (.number(.nan), "null"),
        (.number(.infinity), "null"),
        (.number(-.infinity), "null"),
        ("", #""""#),
        ("plain", #""plain""#),
        ("a\"b\\c/d", #""a\"b\\c/d""#),
        ("\n\t\r\u{8}\u{C}", #""\n\t\r\b\f""#),
        ("\u{0}\u{1}\u{1F}\u{7F}", #""\u0000\u0001\u001f\#u{7F}""#),
        ("é 漢字 😀", #""é 漢字 😀""#),
        ([], "[]"),
        ([:], "{}"),
        ([1, [2, []], nil], "[1,[2,[]],null]"),
        (["b": 1, "a": 2, "c": ["z": [], "y": [:]]], #"{"a":2,"b":1,"c":{"y":{},"z":[]}}"#),
        (["k\"ey": "v"], #"{"k\"ey":"v"}"#),
    ]

    @Test(arguments: writeCases)
    func writesCompactCanonicalText(value: JSONValue, expected: String) {
        #expect(value.jsonString == expected)
    }

    @Test func sortsObjectKeysSoEqualValuesGiveIdenticalText() {
        var members: [String: JSONValue] = [:]
        for index in (0..<50).reversed() {
            members["key\(index)"] = .number(Double(index))
        }
        let text = JSONValue.object(members).jsonString
        let keys = Array(members.keys).sorted()
        let expected = "{" + keys.map { "\"\($0)\":\(members[$0]!.intValue!)" }.joined(separator: ",") + "}"
        #expect(text == expected)
        #expect(JSONValue.object(Dictionary(uniqueKeysWithValues: members.shuffled())).jsonString == text)
    }

    @Test func writeJSONAppendsToExistingBuffers() {
        let value: JSONValue = ["a": [1, "x"]]
        var string = "prefix "
        value.writeJSON(into: &string)
        #expect(string == #"prefix {"a":[1,"x"]}"#)

        var bytes = Array("[".utf8)
        value.writeJSON(into: &bytes)
        JSONValue.null.writeJSON(into: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == #"[{"a":[1,"x"]}null"#)
    }

    @Test func escapesEveryControlCharacter() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).map { Unicode.Scalar(UInt8($0)) }))
        let text = JSONValue.string(controls).jsonString
        #expect(!text.utf8.contains { $0 < 0x20 })
        #expect(try JSONValue(jsonString: text) == .string(controls))
    }
}
