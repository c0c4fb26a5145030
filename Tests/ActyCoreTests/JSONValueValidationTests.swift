import ActyCore
import Testing

struct JSONValueValidationTests {
    static let finiteValues: [JSONValue] = [
        nil, true, "text", 0, -1.5, .number(.greatestFiniteMagnitude), .number(-.leastNonzeroMagnitude), [], [:],
        [1, [2, [3]], ["a": ["b": 4]]],
    ]

    @Test(arguments: finiteValues)
    func finiteValuesHaveNoPath(value: JSONValue) {
        #expect(value.nonFiniteNumberPath == nil)
    }

    static let nonFiniteCases: [(JSONValue, String)] = [
        (.number(.nan), "$"),
        (.number(.infinity), "$"),
        (.number(-.infinity), "$"),
        ([1, 2, .number(.nan)], "$[2]"),
        ([[0, [0, .number(.infinity)]]], "$[0][1][1]"),
        (["scores": [1, .number(.nan)]], "$.scores[1]"),
        (["a": ["b": ["c": .number(-.infinity)]]], "$.a.b.c"),
        ([["x": 1], ["y": [.number(.signalingNaN)]]], "$[1].y[0]"),
        // The first offender: arrays in index order, objects in key order.
        ([.number(.nan), .number(.infinity)], "$[0]"),
        (["b": .number(.nan), "a": .number(.infinity), "c": 1], "$.a"),
        (["z": [1, 2], "m": ["k": .number(.nan)], "a": "fine"], "$.m.k"),
    ]

    @Test(arguments: nonFiniteCases)
    func reportsPathOfFirstNonFiniteNumber(value: JSONValue, path: String) {
        #expect(value.nonFiniteNumberPath == path)
    }

    @Test func nonFiniteNumbersSerializeAsNull() throws {
        let value: JSONValue = ["n": .number(.nan)]
        #expect(value.nonFiniteNumberPath == "$.n")
        #expect(try JSONValue(jsonString: value.jsonString) == ["n": nil])
    }
}
