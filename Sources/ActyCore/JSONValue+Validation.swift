extension JSONValue {
    /// The path of the first number that JSON cannot represent (NaN or an infinity), such as `$.scores[2]`, or
    /// `nil` when every number is finite.
    ///
    /// The serializer writes such numbers as `null`; callers that must not lose data check with this first, or
    /// use ``storableJSONString()``, which also checks the nesting depth.
    public var nonFiniteNumberPath: String? {
        var walker = JSONTreeWalker()
        do {
            try walker.walk(self) { token, walker throws(NonFiniteNumber) in
                if case .scalar(.number(let number)) = token, !number.isFinite { throw NonFiniteNumber(path: walker.path) }
            }
        } catch {
            return error.path
        }
        return nil
    }

    /// How deeply arrays and objects nest in this value: 0 for `null`, booleans, numbers and strings, 1 for `[]` or
    /// `[1, 2]`, 2 for `[[1]]` or `{"a": []}`. The parser accepts up to ``maximumParsingDepth``.
    public var nestingDepth: Int {
        var deepest = 0
        var walker = JSONTreeWalker()
        walker.walk(self) { token, walker in
            if case .open = token { deepest = max(deepest, walker.depth + 1) }
        }
        return deepest
    }
}

private struct NonFiniteNumber: Error {
    let path: String
}

/// Why a ``JSONValue`` cannot be stored as JSON text and read back as the same value.
///
/// Thrown by ``JSONValue/storableJSONString()``; the engine refuses such payloads at submission and fails an attempt
/// whose output is one.
public struct UnstorableJSONError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with the value.
    public enum Problem: Sendable, Hashable {
        /// A NaN or an infinity, at this path (`$.scores[2]`): JSON has no spelling for them.
        case nonFiniteNumber(path: String)
        /// Arrays and objects nest this many levels, more than ``JSONValue/maximumParsingDepth``.
        case tooDeep(depth: Int)
    }

    /// What is wrong with the value.
    public var problem: Problem

    /// Creates an error for a problem.
    public init(problem: Problem) {
        self.problem = problem
    }

    /// The problem as a phrase that follows the value's name: `has a number JSON cannot hold (NaN or infinity) at $.x`.
    public var message: String {
        switch problem {
        case .nonFiniteNumber(let path):
            "has a number JSON cannot hold (NaN or infinity) at \(path)"
        case .tooDeep(let depth):
            "nests arrays and objects \(depth) levels deep, more than the \(JSONValue.maximumParsingDepth) levels JSON text may have here"
        }
    }

    /// The error as one line: `the value <message>`.
    public var description: String {
        "the value \(message)"
    }
}
