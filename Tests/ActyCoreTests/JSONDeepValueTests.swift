import ActyCore
import Foundation
import Testing

/// Values nested far deeper than JSON text may be: everything that reads a whole value works without recursing per
/// level, and the storage check refuses them with the depth and the limit.
struct JSONDeepValueTests {
    /// Deeper than any stack holds as recursion of the old serializer, shallow enough for Swift to free the value
    /// (the runtime releases nested arrays recursively: hundreds of thousands of levels overflow a task's stack).
    static let deep = 20_000

    /// `levels` containers, alternating arrays and objects, around `innermost`.
    static func nested(_ levels: Int, around innermost: JSONValue = 1) -> JSONValue {
        var value = innermost
        for level in 0..<levels { value = level % 2 == 0 ? [value] : ["k": value] }
        return value
    }

    @Test func deepValuesSerializeCompareAndHashWithoutRecursing() {
        let value = Self.nested(Self.deep)
        let text = value.jsonString
        #expect(text.utf8.count == Self.deep / 2 * 8 + 1)
        #expect(value.description == text)
        #expect(value.nestingDepth == Self.deep)
        #expect(value.nonFiniteNumberPath == nil)
        #expect(value == Self.nested(Self.deep))
        #expect(value != Self.nested(Self.deep, around: 2))
        #expect(value.hashValue == Self.nested(Self.deep).hashValue)
        #expect(Set([value, Self.nested(Self.deep)]).count == 1)
    }

    @Test func nonFiniteNumberDeepDownIsFoundWithItsPath() throws {
        let value = Self.nested(600, around: .number(.nan))
        let path = try #require(value.nonFiniteNumberPath)
        #expect(path == "$" + String(repeating: ".k[0]", count: 300))
    }

    @Test func storageRefusesTheFirstLevelPastTheParsersLimit() throws {
        let limit = JSONValue.maximumParsingDepth
        let deepest = Self.nested(limit)
        #expect(try JSONValue(jsonString: try deepest.storableJSONString()) == deepest)

        for levels in [limit + 1, 600, Self.deep] {
            let value = Self.nested(levels)
            let error = #expect(throws: UnstorableJSONError.self) { try value.storableJSONString() }
            #expect(error?.problem == .tooDeep(depth: levels))
            #expect(error?.message.contains("\(levels) levels deep, more than the \(limit) levels") == true)
            // The same limit as the parser: the text the value would have is refused on reading.
            #expect(throws: JSONParseError.self) { try JSONValue(jsonString: value.jsonString) }
        }
        let empty: JSONValue = Self.nested(limit, around: [])
        #expect(throws: UnstorableJSONError.self) { try empty.storableJSONString() }
    }

    @Test func storageNamesTheFirstProblemInSerializationOrder() {
        let value: JSONValue = ["b": Self.nested(600), "a": [1, .number(.infinity)]]
        let error = #expect(throws: UnstorableJSONError.self) { try value.storableJSONString() }
        #expect(error?.problem == .nonFiniteNumber(path: "$.a[1]"))
        #expect(error?.description == "the value has a number JSON cannot hold (NaN or infinity) at $.a[1]")
        let scalar = #expect(throws: UnstorableJSONError.self) { try JSONValue.number(-.infinity).storableJSONString() }
        #expect(scalar?.problem == .nonFiniteNumber(path: "$"))
    }

    @Test func codableRefusesDeepValuesInsteadOfCrashing() throws {
        let encoding = #expect(throws: EncodingError.self) { try JSONEncoder().encode(Self.nested(Self.deep)) }
        #expect(String(describing: encoding).contains("Nesting is deeper than 512 levels"))
        let shallow = Self.nested(100)
        #expect(try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(shallow)) == shallow)
        #expect(try JSONValue(encoding: shallow) == shallow)
        #expect(try shallow.decode(JSONValue.self) == shallow)
    }
}
