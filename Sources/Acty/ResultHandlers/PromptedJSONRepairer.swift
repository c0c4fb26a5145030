import Foundation

/// Builds the messages that ask a model to repair a broken JSON answer: Python acty's `DefaultPromptedJsonRepairer`.
///
/// The conversation gets the broken answer as an assistant message, then one user message made of these lines:
/// the instruction ("Return only valid JSON. Do not include any extra text."), optionally the schema
/// (`Schema: {…}`), the error hint (what was wrong), and the request ("Please repair the assistant output above.").
///
/// Messages are written in the style the conversation already uses: LangChain's serialized form
/// (`{"type": "ai", "data": {"content": …}}`) when its messages have `type` and `data`, chat-completion style
/// (`{"role": "assistant", "content": …}`) otherwise.
public struct PromptedJSONRepairer: Sendable, Hashable {
    /// The first line of the repair request; `nil` leaves it out. The default is Python acty's.
    public var systemInstruction: String?
    /// The last line of the repair request; `nil` leaves it out. The default is Python acty's.
    public var repairRequest: String?
    /// Whether the request quotes the expected schema. The default is `false`, as in Python acty.
    public var includeSchemaHint: Bool
    /// The label before the schema. The default is `Schema`.
    public var schemaHintLabel: String
    /// The most characters of the schema quoted (more are cut, with `...`); 0 for no limit. The default is 2000.
    public var schemaHintMaxCharacters: Int

    /// Python acty's instruction: "Return only valid JSON. Do not include any extra text."
    public static let defaultSystemInstruction = "Return only valid JSON. Do not include any extra text."
    /// Python acty's request: "Please repair the assistant output above."
    public static let defaultRepairRequest = "Please repair the assistant output above."

    /// Creates a repairer; the defaults are Python acty's.
    public init(
        systemInstruction: String? = Self.defaultSystemInstruction,
        repairRequest: String? = Self.defaultRepairRequest,
        includeSchemaHint: Bool = false,
        schemaHintLabel: String = "Schema",
        schemaHintMaxCharacters: Int = 2000
    ) {
        self.systemInstruction = systemInstruction
        self.repairRequest = repairRequest
        self.includeSchemaHint = includeSchemaHint
        self.schemaHintLabel = schemaHintLabel
        self.schemaHintMaxCharacters = schemaHintMaxCharacters
    }

    /// The text of the user message that asks for the repair.
    ///
    /// - Parameters:
    ///   - schemaJSON: the expected schema as JSON text, quoted when ``includeSchemaHint`` is on.
    ///   - errorHint: what was wrong with the answer.
    public func repairText(schemaJSON: String? = nil, errorHint: String? = nil) -> String {
        var parts: [String] = []
        if let systemInstruction, !systemInstruction.isEmpty { parts.append(systemInstruction) }
        if includeSchemaHint, var hint = schemaJSON, !hint.isEmpty {
            if schemaHintMaxCharacters > 0, hint.unicodeScalars.count > schemaHintMaxCharacters {
                hint = String(String.UnicodeScalarView(hint.unicodeScalars.prefix(schemaHintMaxCharacters))) + "..."
            }
            let label = schemaHintLabel.isEmpty ? "" : "\(schemaHintLabel): "
            parts.append(label + hint)
        }
        if let errorHint, !errorHint.isEmpty { parts.append(errorHint) }
        if let repairRequest, !repairRequest.isEmpty { parts.append(repairRequest) }
        return parts.joined(separator: "\n")
    }

    /// `messages` followed by the broken answer and the request to repair it.
    ///
    /// - Parameters:
    ///   - rawText: the broken answer, as the model wrote it.
    ///   - messages: the conversation that produced it.
    ///   - schemaJSON: the expected schema as JSON text (see ``includeSchemaHint``).
    ///   - errorHint: what was wrong with the answer.
    public func repairMessages(rawText: String, messages: [JSONValue], schemaJSON: String? = nil, errorHint: String? = nil) -> [JSONValue] {
        let request = repairText(schemaJSON: schemaJSON, errorHint: errorHint)
        let isLangChain = messages.contains { $0["type"] != nil && $0["data"] != nil }
        func message(_ role: (chat: String, langChain: String), _ content: String) -> JSONValue {
            isLangChain
                ? ["type": .string(role.langChain), "data": ["type": .string(role.langChain), "content": .string(content)]]
                : ["role": .string(role.chat), "content": .string(content)]
        }
        return messages + [message(("assistant", "ai"), rawText), message(("user", "human"), request)]
    }

    /// Describes a JSON parse error as Python acty's `format_json_parse_error`: `<message>; line L column C; near:
    /// '<up to 40 characters either side>'`.
    public static func describe(_ error: JSONParseError, in rawText: String) -> String {
        // The offset counts UTF-8 bytes; Python counts characters (Unicode scalars).
        let scalars = Array(rawText.unicodeScalars)
        var position = 0
        var bytes = 0
        while position < scalars.count, bytes < error.offset {
            bytes += String(scalars[position]).utf8.count
            position += 1
        }
        let before = scalars[..<position]
        let line = before.filter { $0 == "\n" }.count + 1
        let column = position - (before.lastIndex(of: "\n").map { $0 + 1 } ?? 0) + 1
        var parts = [error.message, "line \(line) column \(column)"]
        let window = scalars[max(0, position - 40)..<min(scalars.count, position + 40)]
        let snippet = String(String.UnicodeScalarView(window)).replacingOccurrences(of: "\n", with: " ")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if !snippet.isEmpty { parts.append("near: \(PythonText.repr(snippet))") }
        return parts.joined(separator: "; ")
    }
}
