import ActyTestSupport
@testable import Acty
@testable import ActyStore
import Testing

/// The JSON repair handler, and the texts it ports from Python acty (`DefaultPromptedJsonRepairer`,
/// `summarize_validation_errors`, `format_json_parse_error`). Expected texts were produced by running Python acty's
/// `acty_langchain/repair_hints.py` 0.1.0 on the same inputs.
@Suite(.timeLimit(.minutes(1)))
struct JSONRepairHandlerTests {
    static let python: [(String, [ValidationIssue], String?)] = [
        ("none", [], nil),
        (
            "missing and type",
            [
                ValidationIssue(type: "missing", location: [.key("verdict")], message: "Field required"),
                ValidationIssue(type: "int_type", location: [.key("risks"), .index(0), .key("score")], message: "Input should be a valid integer", input: "high"),
            ],
            #"Missing fields: "verdict" field. Type mismatches: "risks[0].score" field got "high" expected integer"#
        ),
        (
            "enum, constraints, extra",
            [
                ValidationIssue(
                    type: "literal_error", location: [.key("verdict")], message: "Input should be 'go' or 'no-go'", input: "maybe",
                    context: ["expected": "'go' or 'no-go'"]
                ),
                ValidationIssue(type: "too_short", location: [.key("risks")], input: [], context: ["min_length": 1]),
                ValidationIssue(type: "string_pattern_mismatch", location: [.key("id")], context: ["pattern": "^[a-z]+$"]),
                ValidationIssue(type: "extra_forbidden", location: [.key("notes")], input: "é ok"),
                ValidationIssue(type: "greater_than_equal", location: [.key("score")], input: -1, context: ["ge": 0]),
            ],
            #"Enum mismatches: "verdict" field got "maybe"; allowed values: 'go' or 'no-go'. Extra fields: "notes" field got "\u00e9 ok". "#
                + #"Constraint violations: "risks" field got [] ("risks" field min length: 1), "id" field must match pattern: ^[a-z]+$, "#
                + #""score" field got -1 ("score" field >= 0)"#
        ),
        (
            "union, format, other, root",
            [
                ValidationIssue(type: "union_tag_invalid", location: [.key("kind")], context: ["expected_tags": ["a", "b"]]),
                ValidationIssue(type: "datetime_parsing", location: [.key("when")], input: "yesterday"),
                ValidationIssue(type: "value_error", message: "Value error, bad"),
                ValidationIssue(type: "dict_type", input: [1, 2]),
                ValidationIssue(type: "list_type", location: [.index(0), .index(1)]),
            ],
            #"Type mismatches: root got [1, 2] expected object, [0][1] expected list. "#
                + #"Union mismatches: "kind" field invalid discriminator tag (expected one of a, b). "#
                + #"Format errors: "when" field got "yesterday" expected datetime. Other issues: root: Value error, bad"#
        ),
        (
            "more than five",
            (0..<7).map { ValidationIssue(type: "missing", location: [.key("k\($0)")]) },
            #"Missing fields: "k0" field, "k1" field, "k2" field, "k3" field, "k4" field, ... and 2 more"#
        ),
        (
            "long value",
            [ValidationIssue(type: "string_type", location: [.key("text")], input: ["a": .string(String(repeating: "x", count: 100))])],
            #"Type mismatches: "text" field got {"a": ""# + String(repeating: "x", count: 70) + "... expected string"
        ),
        (
            "longer than 500 characters",
            (0..<5).map { ValidationIssue(type: "missing", location: [.key("field_with_a_long_name_\($0)")]) }
                + (0..<5).map {
                    ValidationIssue(
                        type: "value_error", location: [.key("other_field_name_that_is_long_\($0)")],
                        message: "a message that is somewhat long to fill the space"
                    )
                }
                + (0..<5).map { ValidationIssue(type: "string_type", location: [.key("t\($0)")], input: .string(String(repeating: "v", count: 70))) },
            #"Missing fields: "field_with_a_long_name_0" field, "field_with_a_long_name_1" field, "field_with_a_long_name_2" field, "#
                + #""field_with_a_long_name_3" field, "field_with_a_long_name_4" field. Type mismatches: "t0" field got ""#
                + String(repeating: "v", count: 70) + #"" expected string, "t1" field got ""# + String(repeating: "v", count: 70)
                + #"" expected string, "t2" field got ""# + String(repeating: "v", count: 68) + "..."
        ),
    ]

    @Test(arguments: python.indices)
    func validationSummaryReadsAsPythonActysDoes(_ index: Int) {
        let (name, issues, expected) = Self.python[index]
        #expect(ValidationSummary().summarize(issues) == expected, "\(name)")
    }

    @Test func validationSummaryLabelsCanBeReplaced() {
        let summary = ValidationSummary(labels: ["missing_fields": "Champs manquants"])
        #expect(summary.summarize([ValidationIssue(type: "missing", location: [.key("a")])]) == #"Champs manquants: "a" field"#)
    }

    @Test func parseErrorsAreDescribedWithLineColumnAndContext() throws {
        let text = "{\"verdict\": \"go\",\n \"risks\": [1, 2,]}"
        let error = try #require(throws: JSONParseError.self) { try JSONValue(jsonString: text) }
        // Python: "Expecting value; line 2 column 17; near: '{"verdict": "go",  "risks": [1, 2,]}'" (its own message).
        #expect(PromptedJSONRepairer.describe(error, in: text) == #"\#(error.message); line 2 column 17; near: '{"verdict": "go",  "risks": [1, 2,]}'"#)
    }

    @Test func theRepairRequestIsPythonActysText() {
        let repairer = PromptedJSONRepairer()
        #expect(repairer.repairText(errorHint: "Missing fields: \"verdict\" field") == """
            Return only valid JSON. Do not include any extra text.
            Missing fields: "verdict" field
            Please repair the assistant output above.
            """)
        let withSchema = PromptedJSONRepairer(includeSchemaHint: true, schemaHintMaxCharacters: 5)
        #expect(withSchema.repairText(schemaJSON: #"{"type":"object"}"#) == """
            Return only valid JSON. Do not include any extra text.
            Schema: {"typ...
            Please repair the assistant output above.
            """)
        #expect(PromptedJSONRepairer(systemInstruction: nil, repairRequest: nil).repairText(errorHint: "hint") == "hint")
    }

    @Test func repairMessagesFollowTheConversationsStyle() {
        let repairer = PromptedJSONRepairer(systemInstruction: nil, repairRequest: "fix")
        let chat = repairer.repairMessages(rawText: "{bad", messages: [["role": "user", "content": "ask"]])
        #expect(chat == [["role": "user", "content": "ask"], ["role": "assistant", "content": "{bad"], ["role": "user", "content": "fix"]])
        let langChain = repairer.repairMessages(rawText: "{bad", messages: [["type": "human", "data": ["type": "human", "content": "ask"]]])
        #expect(langChain.dropFirst() == [["type": "ai", "data": ["type": "ai", "content": "{bad"]], ["type": "human", "data": ["type": "human", "content": "fix"]]])
    }

    @Test func answersAreReadFromTextFencesAndObjects() {
        let handler = JSONRepairHandler(requiredKeys: ["verdict"], keyTypes: ["risks": .array, "score": .integer])
        #expect(handler.check(["verdict": "go"]) == .valid(["verdict": "go"], parsed: false))
        #expect(handler.check(#"{"verdict": "go", "risks": []}"#) == .valid(["verdict": "go", "risks": []], parsed: true))
        #expect(handler.check("```json\n{\"verdict\": \"go\"}\n```") == .valid(["verdict": "go"], parsed: true))
        #expect(handler.check(#"{"risks": "none", "score": 1.5}"#) == .mismatch(
            rawText: #"{"risks": "none", "score": 1.5}"#,
            summary: #"Missing fields: "verdict" field. Type mismatches: "risks" field got "none" expected list, "score" field got 1.5 expected integer"#
        ))
        #expect(handler.check("[1]") == .mismatch(rawText: "[1]", summary: "Type mismatches: root got [1] expected object"))
        let fromContent = JSONRepairHandler(requiredKeys: ["verdict"], textKey: "content")
        #expect(fromContent.check(["content": #"{"verdict": "go"}"#, "usage": 3]) == .valid(["verdict": "go"], parsed: true))
        guard case .invalidJSON(let raw, _) = handler.check("verdict: go") else {
            Issue.record("text that is not JSON must be invalid")
            return
        }
        #expect(raw == "verdict: go")
    }

    @Test func aPayloadWithoutMessagesCannotBeRepaired() async throws {
        let handler = JSONRepairHandler()
        let action = try await handler.handle(output: "oops", of: Job(id: JobID(1), groupKey: "g", role: .primer, payload: ["prompt": "x"]))
        guard case .fail(let error) = action else {
            Issue.record("expected a failure, got \(action)")
            return
        }
        #expect(error.type == "InvalidJSONOutput")
        #expect(error.message.hasSuffix("the payload has no 'messages' list to ask for a repair"))
    }

    /// A model that breaks its first answer is asked to repair it, in the payload's conversation, and its repaired
    /// answer becomes the job's output.
    @Test func aBrokenAnswerIsRepairedThroughAResubmit() async throws {
        let dir = TemporaryDirectory()
        let conversations = Recorder<JSONValue>()
        let model = ClosureExecutor(name: "model") { job in
            conversations.append(job.payload)
            return job.resubmits == 0 ? #"{"verdict": "go", "risks": ["#: #"{"verdict": "go", "risks": []}"#
        }
        let configuration = EngineConfiguration(resultHandler: JSONRepairHandler(requiredKeys: ["verdict", "risks"]), maxResultHandlerAttempts: 3)
        let engine = try await makeEngine(dir, configuration, executors: [model])
        do {
            let ask: JSONValue = ["messages": [["role": "user", "content": "Review the release."]]]
            let primer = try #require(try await engine.submitGroup("review", primer: ask).primer)
            let result = try await primer.boundedResult()
            #expect(result.status == .succeeded)
            #expect(result.output == ["verdict": "go", "risks": []])

            let repaired = try #require(conversations.values.last)
            let messages = try #require(repaired["messages"]?.arrayValue)
            #expect(messages.count == 3)
            #expect(messages[1] == ["role": "assistant", "content": #"{"verdict": "go", "risks": ["#])
            let request = try #require(messages[2]["content"]?.stringValue)
            #expect(request.hasPrefix("Return only valid JSON. Do not include any extra text.\n"))
            #expect(request.contains("; line 1 column 29; near: "))
            #expect(request.hasSuffix("\nPlease repair the assistant output above."))
            #expect(repaired["meta"]?["repair_attempt"] == 1)
            let attempt = try #require(try await engine.store.attempts(of: primer.id).first)
            #expect(attempt.outcome == "resubmitted")
            #expect(attempt.reason?.hasPrefix("the answer is not valid JSON: ") == true)
        } catch {
            try? await engine.boundedShutdown()
            throw error
        }
        try await engine.boundedShutdown()
    }

    @Test func aCompositionRunsHandlersInOrderUntilOneDoesNotAccept() async throws {
        let first = ResultHandlerTests.Deciding(name: "first") { _, _ in .accept }
        let second = ResultHandlerTests.Deciding(name: "second") { _, _ in .fail(JobError(type: "Stop", message: "stop")) }
        let third = ResultHandlerTests.Deciding(name: "third") { _, _ in .accept }
        let job = Job(id: JobID(1), groupKey: "g", role: .primer, payload: "p")
        let action = try await ComposedResultHandler(name: "all", [first, second, third]).handle(output: "out", of: job)
        #expect(action == .fail(JobError(type: "Stop", message: "stop")))
        #expect(first.calls.count == 1 && second.calls.count == 1 && third.calls.count == 0)
        let accepting = try await ComposedResultHandler(name: "accepting", [first, third]).handle(output: "out", of: job)
        #expect(accepting == .accept)
        #expect(third.calls.count == 1)
    }
}
