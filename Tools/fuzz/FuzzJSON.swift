// libFuzzer entry point for ActyCore's JSON parser and serializer, compiled together with ActyCore's JSON sources
// by Tools/fuzz/run.sh. Any input must either parse or throw `JSONParseError`; whatever parses must serialize to
// text that parses back to an equal value, serialize identically again, and pass the storage check.

import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let value: JSONValue
    do {
        value = try JSONValue(jsonUTF8: bytes)
    } catch {
        check(error.offset >= 0 && error.offset <= size, "error offset \(error.offset) outside input of \(size) bytes")
        return 0
    }
    check(value.nestingDepth <= JSONValue.maximumParsingDepth, "parsed a value nested \(value.nestingDepth) levels")
    check(value.nonFiniteNumberPath == nil, "parsed a non-finite number at \(value.nonFiniteNumberPath ?? "")")

    let text = value.jsonString
    let again: JSONValue
    do {
        again = try JSONValue(jsonString: text)
    } catch {
        fail("serialized text does not parse: \(error)")
    }
    check(again == value, "round trip changed the value")
    check(again.hashValue == value.hashValue, "equal values hash differently")
    check(again.jsonString == text, "serialization is not idempotent")
    do {
        let stored = try value.storableJSONString()
        check(stored == text, "storable text differs from jsonString")
    } catch {
        fail("a parsed value is not storable: \(error)")
    }
    check(value.description == text, "description differs from jsonString")

    // Foundation reads and writes the same text through `JSONValue`'s `Codable` conformance (its encoder stops
    // one level short of the parser's limit).
    guard value.nestingDepth < JSONValue.maximumParsingDepth else { return 0 }
    do {
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        check(decoded == value, "JSONDecoder read back a different value")
        let encoded = try JSONValue(encoding: decoded)
        check(encoded == value, "JSONEncoder wrote a different value")
    } catch {
        fail("Codable round trip failed: \(error)")
    }
    return 0
}

private func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fail(message()) }
}

private func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fuzz check failed: \(message)\n".utf8))
    abort()
}
