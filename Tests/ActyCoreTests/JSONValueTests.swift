import ActyCore
import Foundation
import Testing

struct JSONValueTests {
    // MARK: - Literals

    @Test func literalsBuildTheMatchingCases() {
        let null: JSONValue = nil
        let yes: JSONValue = true
        let integer: JSONValue = 42
        let fraction: JSONValue = 2.5
        let text: JSONValue = "hello"
        let array: JSONValue = [1, "two", nil]
        let object: JSONValue = ["a": 1, "b": [false]]

        #expect(null == .null)
        #expect(yes == .bool(true))
        #expect(integer == .number(42))
        #expect(fraction == .number(2.5))
        #expect(text == .string("hello"))
        #expect(array == .array([.number(1), .string("two"), .null]))
        #expect(object == .object(["a": .number(1), "b": .array([.bool(false)])]))
    }

    @Test func dictionaryLiteralKeepsTheLastValueOfARepeatedKey() {
        let object: JSONValue = ["a": 1, "a": 2]
        #expect(object == ["a": 2])
    }

    // MARK: - Accessors

    @Test func subscriptsReadObjectMembersAndArrayElements() {
        let value: JSONValue = ["list": [10, 20], "name": "x"]
        #expect(value["name"] == "x")
        #expect(value["missing"] == nil)
        #expect(value["list"]?[0] == 10)
        #expect(value["list"]?[1] == 20)
        #expect(value["list"]?[2] == nil)
        #expect(value["list"]?[-1] == nil)
        #expect(value[0] == nil)
        #expect(value["list"]?["name"] == nil)
        #expect(JSONValue.string("x")["name"] == nil)
    }

    @Test func typedAccessorsReturnValuesOnlyForTheirOwnCase() {
        let values: [JSONValue] = [nil, true, 3, "s", [1], ["k": 1]]
        #expect(values.map(\.isNull) == [true, false, false, false, false, false])
        #expect(values.map(\.boolValue) == [nil, true, nil, nil, nil, nil])
        #expect(values.map(\.doubleValue) == [nil, nil, 3, nil, nil, nil])
        #expect(values.map(\.intValue) == [nil, nil, 3, nil, nil, nil])
        #expect(values.map(\.stringValue) == [nil, nil, nil, "s", nil, nil])
        #expect(values.map(\.arrayValue) == [nil, nil, nil, nil, [1], nil])
        #expect(values.map(\.objectValue) == [nil, nil, nil, nil, nil, ["k": 1]])
    }

    static let intValueCases: [(JSONValue, Int?)] = [
        (JSONValue.number(7), 7 as Int?),
        (.number(-0.0), 0),
        (.number(-12), -12),
        (.number(2.5), nil),
        (.number(1e300), nil),
        (.number(.nan), nil),
        (.number(.infinity), nil),
        (.string("7"), nil),
    ]

    @Test(arguments: intValueCases)
    func intValueRequiresAnIntegralNumberThatFits(value: JSONValue, expected: Int?) {
        #expect(value.intValue == expected)
    }

    @Test func equalityIgnoresObjectKeyOrderAndZeroSign() {
        let first: JSONValue = ["a": 1, "b": 2]
        let second: JSONValue = ["b": 2, "a": 1]
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(JSONValue.number(0) == .number(-0.0))
        #expect(JSONValue.number(1) != .string("1"))
    }

    // MARK: - Codable

    private struct Envelope: Codable, Equatable {
        var id: Int
        var payload: JSONValue
        var extra: JSONValue?
    }

    @Test func roundTripsThroughJSONEncoderAndDecoder() throws {
        let payload: JSONValue = [
            "null": nil, "bool": false, "int": -17, "fraction": 0.1, "big": 1e300,
            "text": "é \"quoted\" \n 😀", "array": [1, [2, [3]], [:]], "object": ["nested": ["deep": true]],
        ]
        let envelope = Envelope(id: 7, payload: payload, extra: [])
        let data = try JSONEncoder().encode(envelope)
        let decoded = try JSONDecoder().decode(Envelope.self, from: data)
        #expect(decoded == envelope)
    }

    @Test func decodesFromJSONDecoderLikeTheNativeParser() throws {
        let text = #"{"a":[1,2.5,-3e2,true,null,"x"],"b":{"c":{}},"d":[]}"#
        let viaDecoder = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let viaParser = try JSONValue(jsonString: text)
        #expect(viaDecoder == viaParser)
    }

    @Test func encodesNonFiniteNumbersAsNull() throws {
        let value: JSONValue = ["b": .number(.nan), "a": .number(.infinity), "c": 1]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(value)
        #expect(String(decoding: data, as: UTF8.self) == #"{"a":null,"b":null,"c":1}"#)
    }

    private struct SendEmail: Codable, Equatable {
        var to: String
        var attempts: Int
        var tags: [String]
        var ratio: Double
        var replyTo: String?
    }

    @Test func bridgesCodableValuesWithEncodingAndDecode() throws {
        let email = SendEmail(to: "ada@example.com", attempts: 3, tags: ["welcome", "ünïcode"], ratio: 0.25, replyTo: nil)
        let value = try JSONValue(encoding: email)
        #expect(value["to"] == "ada@example.com")
        #expect(value["attempts"]?.intValue == 3)
        #expect(value["tags"] == ["welcome", "ünïcode"])
        #expect(value["ratio"]?.doubleValue == 0.25)
        #expect(value["replyTo"] == nil)
        #expect(try value.decode(SendEmail.self) == email)
    }

    @Test func bridgesScalarsWithEncodingAndDecode() throws {
        #expect(try JSONValue(encoding: 5) == 5)
        #expect(try JSONValue(encoding: "x") == "x")
        #expect(try JSONValue(encoding: [1.5, 2]) == [1.5, 2])
        #expect(try JSONValue.number(5).decode(Int.self) == 5)
        #expect(try JSONValue.null.decode(String?.self) == nil)
    }

    @Test func decodeThrowsWhenTheShapeDoesNotMatch() {
        let value: JSONValue = ["to": 1]
        #expect(throws: DecodingError.self) { try value.decode(SendEmail.self) }
        #expect(throws: DecodingError.self) { try JSONValue.number(1.5).decode(Int.self) }
    }
}
