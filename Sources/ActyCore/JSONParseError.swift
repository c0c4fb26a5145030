/// An error thrown when text is not valid JSON (RFC 8259).
///
/// The error locates the problem by byte offset into the UTF-8 input and says what the parser expected there.
/// It never quotes the input, so it is safe to log even when the text is a user's payload:
///
/// ```swift
/// do {
///     _ = try JSONValue(jsonString: #"{"id": 1 "name": "x"}"#)
/// } catch {
///     print(error)  // invalid JSON at byte 9: expected ',' or '}' in object
/// }
/// ```
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, as a short phrase (`expected ',' or '}' in object`).
    public var message: String

    /// The zero-based offset, in bytes of the UTF-8 input, where the problem was found.
    public var offset: Int

    /// Creates an error with a message and the byte offset it refers to.
    ///
    /// - Parameters:
    ///   - message: What was wrong, as a short phrase.
    ///   - offset: The zero-based byte offset of the problem in the UTF-8 input.
    public init(message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    /// The error as one line for logs and command-line output: `invalid JSON at byte <offset>: <message>`.
    public var description: String {
        "invalid JSON at byte \(offset): \(message)"
    }
}
