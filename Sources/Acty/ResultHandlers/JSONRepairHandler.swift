import Foundation

/// A result handler for jobs that ask a model for a JSON object: it accepts an answer that is one, and asks the model
/// to repair an answer that is not.
///
/// The answer is the output itself, or the string at ``textKey`` of an object output. An answer that is a JSON
/// object, or a string holding one (also inside one Markdown code fence), with every key of ``requiredKeys`` and the
/// types of ``keyTypes``, is accepted; a string is replaced by the object it holds. Any other answer resubmits the job
/// with its payload's `messages` extended by the broken answer and a request to repair it, written by ``repairer``
/// (Python acty's `DefaultPromptedJsonRepairer`): the request says what was wrong, as Python acty's
/// `format_json_parse_error` or `summarize_validation_errors` (``ValidationSummary``) would. The payload's
/// `meta.repair_attempt` counts the repairs, and the resubmit's reason says what was wrong.
///
/// ```swift
/// let engine = try await ActyEngine(
///     database: .file("acty.db"),
///     configuration: EngineConfiguration(
///         resultHandler: JSONRepairHandler(requiredKeys: ["verdict", "risks"], keyTypes: ["risks": .array]),
///         maxResultHandlerAttempts: 3
///     ),
///     executors: [ModelExecutor()]
/// )
/// ```
///
/// A payload without a `messages` list cannot be repaired: the job fails with error type `InvalidJSONOutput`.
public struct JSONRepairHandler: ResultHandler {
    /// The JSON types ``keyTypes`` can ask for.
    public enum ValueType: String, Sendable, Hashable, CaseIterable {
        /// A JSON string.
        case string
        /// Any JSON number.
        case number
        /// A JSON number without a fractional part.
        case integer
        /// `true` or `false`.
        case boolean
        /// A JSON array.
        case array
        /// A JSON object.
        case object
        /// `null`.
        case null
    }

    /// The name groups store to find the handler. The default is `JSONRepairHandler`; give handlers with other
    /// settings other names.
    public var name: String
    /// Keys the answer's object must have.
    public var requiredKeys: [String]
    /// Types of the answer's members, when present (a small schema).
    public var keyTypes: [String: ValueType]
    /// Where the answer's text is in an object output (`content`, say); `nil`, the default, for the output itself.
    public var textKey: String?
    /// The payload key of the conversation to extend. The default is `messages`.
    public var messagesKey: String
    /// Writes the repair request.
    public var repairer: PromptedJSONRepairer

    /// Creates the handler.
    ///
    /// - Parameters:
    ///   - name: the name groups store; change it when handlers with other settings run on the same database.
    ///   - requiredKeys: keys the answer's object must have.
    ///   - keyTypes: types of the answer's members, when present.
    ///   - textKey: where the answer's text is in an object output; `nil` for the output itself.
    ///   - messagesKey: the payload key of the conversation to extend.
    ///   - repairer: writes the repair request.
    public init(
        name: String = "JSONRepairHandler",
        requiredKeys: [String] = [],
        keyTypes: [String: ValueType] = [:],
        textKey: String? = nil,
        messagesKey: String = "messages",
        repairer: PromptedJSONRepairer = PromptedJSONRepairer()
    ) {
        self.name = name
        self.requiredKeys = requiredKeys
        self.keyTypes = keyTypes
        self.textKey = textKey
        self.messagesKey = messagesKey
        self.repairer = repairer
    }

    public func handle(output: JSONValue, of job: Job) async throws -> ResultAction {
        let problem: (rawText: String, hint: String, reason: String)
        switch check(output) {
        case .valid(let object, let parsed):
            return parsed ? .replace(object) : .accept
        case .invalidJSON(let rawText, let hint):
            problem = (rawText, hint, "the answer is not valid JSON: \(hint)")
        case .mismatch(let rawText, let summary):
            problem = (rawText, summary, "the answer does not match the expected JSON: \(summary)")
        }
        guard var payload = job.payload.objectValue, let messages = payload[messagesKey]?.arrayValue else {
            return .fail(JobError(type: "InvalidJSONOutput", message: "\(problem.reason); the payload has no '\(messagesKey)' list to ask for a repair"))
        }
        let repairAttempt = job.resubmits + 1
        payload[messagesKey] = .array(
            repairer.repairMessages(rawText: problem.rawText, messages: messages, schemaJSON: schemaJSON, errorHint: problem.hint)
        )
        var meta = payload["meta"]?.objectValue ?? [:]
        meta["repair_attempt"] = .number(Double(repairAttempt))
        payload["meta"] = .object(meta)
        return .resubmit(.object(payload), reason: problem.reason)
    }

    /// What an output is, for this handler.
    enum Check: Equatable {
        /// A matching object; `parsed` when it was read from text (so it replaces the output).
        case valid(JSONValue, parsed: Bool)
        /// Text that is not JSON, with Python acty's description of the parse error.
        case invalidJSON(rawText: String, hint: String)
        /// JSON that does not match, with the validation summary.
        case mismatch(rawText: String, summary: String)
    }

    /// Reads the answer out of an output and checks it.
    func check(_ output: JSONValue) -> Check {
        var answer = output
        if let textKey, let text = output[textKey] { answer = text }
        guard case .string(let text) = answer else {
            return validate(answer, rawText: answer.jsonString, parsed: textKey != nil)
        }
        do {
            return validate(try JSONValue(jsonString: Self.unfenced(text)), rawText: text, parsed: true)
        } catch {
            return .invalidJSON(rawText: text, hint: PromptedJSONRepairer.describe(error, in: Self.unfenced(text)))
        }
    }

    private func validate(_ value: JSONValue, rawText: String, parsed: Bool) -> Check {
        guard case .object(let members) = value else {
            let issue = ValidationIssue(type: "dict_type", message: "Input should be a valid dictionary", input: value)
            return .mismatch(rawText: rawText, summary: ValidationSummary().summarize([issue]) ?? "")
        }
        var issues: [ValidationIssue] = []
        for key in requiredKeys where members[key] == nil {
            issues.append(ValidationIssue(type: "missing", location: [.key(key)], message: "Field required"))
        }
        for (key, type) in keyTypes.sorted(by: { $0.key < $1.key }) {
            guard let member = members[key], !type.matches(member) else { continue }
            issues.append(ValidationIssue(type: type.errorType, location: [.key(key)], input: member))
        }
        guard issues.isEmpty else { return .mismatch(rawText: rawText, summary: ValidationSummary().summarize(issues) ?? "") }
        return .valid(value, parsed: parsed)
    }

    /// The expected shape as a JSON schema, for ``PromptedJSONRepairer/includeSchemaHint``.
    var schemaJSON: String? {
        guard !requiredKeys.isEmpty || !keyTypes.isEmpty else { return nil }
        var properties: [String: JSONValue] = [:]
        for (key, type) in keyTypes { properties[key] = ["type": .string(type.rawValue)] }
        let schema: JSONValue = [
            "type": "object", "required": .array(requiredKeys.map { .string($0) }), "properties": .object(properties),
        ]
        return schema.jsonString
    }

    /// The text inside one Markdown code fence (```` ```json … ``` ````), or the text itself.
    static func unfenced(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("```"), trimmed.hasSuffix("```"), trimmed.count >= 6 else { return text }
        var body = trimmed.dropFirst(3).dropLast(3)
        if let newline = body.firstIndex(of: "\n") { body = body[body.index(after: newline)...] }
        return String(body)
    }
}

extension JSONRepairHandler.ValueType {
    func matches(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.string, .string), (.boolean, .bool), (.array, .array), (.object, .object), (.null, .null), (.number, .number): true
        case (.integer, .number(let number)): number.rounded() == number
        default: false
        }
    }

    /// The Pydantic error type of a value that is not of this type.
    var errorType: String {
        switch self {
        case .string: "string_type"
        case .number: "float_type"
        case .integer: "int_type"
        case .boolean: "bool_type"
        case .array: "list_type"
        case .object: "dict_type"
        case .null: "none_required"
        }
    }
}
