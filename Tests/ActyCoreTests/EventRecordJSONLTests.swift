import ActyTestSupport
import ActyCore
import Testing

struct EventRecordJSONLTests {
    static let envelopeKeys = [
        "schema_version", "run_id", "seq", "ts", "type", "payload", "job_id", "group_id", "follower_id", "pool", "kind",
    ]

    static let full = EventRecord(
        seq: 42, at: 1_700_000_000.25, type: "job_started", groupID: GroupID(7), groupKey: "release-readiness",
        jobID: JobID(1234), role: .follower, followerIndex: 3, lane: "priority", pool: .primer, worker: "w-1",
        data: #"{"attempt":2,"pool":"primer","stolen":true}"#
    )

    static let bare = EventRecord(seq: 1, at: 10, type: "run_finished")

    static func parse(_ line: String) throws -> [String: JSONValue] {
        let value = try JSONValue(jsonString: line)
        return try #require(value.objectValue)
    }

    // MARK: - Envelope

    @Test(arguments: [full, bare])
    func lineIsOneJSONObjectWithKeysInEnvelopeOrder(record: EventRecord) throws {
        let line = record.jsonlLine()
        #expect(!line.contains("\n"))
        let object = try Self.parse(line)
        #expect(Set(object.keys) == Set(Self.envelopeKeys))
        #expect(topLevelKeys(ofJSONObject: line) == Self.envelopeKeys)
    }

    @Test func fullRecordFillsEveryField() throws {
        let object = try Self.parse(Self.full.jsonlLine())
        #expect(object["schema_version"] == 1)
        #expect(object["run_id"] == "w-1")
        #expect(object["seq"] == 42)
        #expect(object["ts"] == 1_700_000_000.25)
        #expect(object["type"] == "job_started")
        #expect(object["job_id"] == "1234")
        #expect(object["group_id"] == "release-readiness")
        #expect(object["follower_id"] == "3")
        #expect(object["pool"] == "primer")
        #expect(object["kind"] == "follower")
        #expect(object["payload"] == ["attempt": 2, "pool": "primer", "stolen": true, "lane": "priority"])
    }

    @Test func missingFieldsAreNull() throws {
        let line = Self.bare.jsonlLine()
        let object = try Self.parse(line)
        for key in ["run_id", "payload", "job_id", "group_id", "follower_id", "pool", "kind"] {
            #expect(object[key] == .null, "\(key)")
        }
        #expect(object["seq"] == 1)
        #expect(object["ts"] == 10)
        #expect(object["type"] == "run_finished")
    }

    @Test func runIDArgumentOverridesTheWorker() throws {
        #expect(try Self.parse(Self.full.jsonlLine(runID: "run-9"))["run_id"] == "run-9")
        #expect(try Self.parse(Self.bare.jsonlLine(runID: "run-9"))["run_id"] == "run-9")
    }

    @Test func schemaVersionIsOne() {
        #expect(EventRecord.jsonlSchemaVersion == 1)
        #expect(Self.bare.jsonlLine().hasPrefix(#"{"schema_version": 1, "#))
    }

    // MARK: - Payload and lane

    static let laneCases: [(String?, JSONValue)] = [
        // data, expected payload for lane "bulk"
        (nil, ["lane": "bulk"]),
        (#"{"followers":3}"#, ["followers": 3, "lane": "bulk"]),
        (#"{"lane":"other","x":null}"#, ["lane": "other", "x": nil]),
        (#"[1,2]"#, [1, 2]),
        ("not json", ["lane": "bulk"]),
    ]

    @Test(arguments: laneCases)
    func laneIsMergedIntoThePayload(data: String?, expected: JSONValue) throws {
        let record = EventRecord(seq: 5, at: 1, type: "followers_ready", lane: "bulk", data: data)
        #expect(try Self.parse(record.jsonlLine())["payload"] == expected)
    }

    @Test func payloadWithoutLaneIsTheDataAsIs() throws {
        let record = EventRecord(seq: 5, at: 1, type: "group_done", data: #"{"ok":true,"state":"succeeded"}"#)
        #expect(try Self.parse(record.jsonlLine())["payload"] == ["ok": true, "state": "succeeded"])
    }

    // MARK: - Escaping

    static let awkwardStrings = [
        #"quote " and backslash \ inside"#,
        "new\nline\ttab\r\u{0}\u{1F}",
        "unicode é 漢 😀",
        "</script>",
        #"{"looks":"like json"}"#,
    ]

    @Test(arguments: awkwardStrings)
    func stringsAreEscaped(text: String) throws {
        let record = EventRecord(
            seq: 3, at: 2.5, type: text, groupKey: text, jobID: JobID(1), role: .primer, lane: text, worker: text, data: nil
        )
        let line = record.jsonlLine()
        #expect(!line.contains("\n") && !line.contains("\r"))
        let object = try Self.parse(line)
        #expect(object["type"]?.stringValue == text)
        #expect(object["group_id"]?.stringValue == text)
        #expect(object["run_id"]?.stringValue == text)
        #expect(object["payload"] == ["lane": .string(text)])
        #expect(topLevelKeys(ofJSONObject: line) == Self.envelopeKeys)
    }

    @Test func keyHelperSeesOnlyTopLevelKeys() {
        #expect(topLevelKeys(ofJSONObject: #"{"a": {"b": 1, "c": [{"d": 2}]}, "e": "f:\"g\"", "h": null}"#) == ["a", "e", "h"])
    }
}
