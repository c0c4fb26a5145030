extension JSONValue {
    /// The path of the first number that JSON cannot represent (NaN or an infinity), such as `$.scores[2]`, or
    /// `nil` when every number is finite.
    ///
    /// The serializer writes such numbers as `null`; callers that must not lose data check with this first.
    public var nonFiniteNumberPath: String? {
        switch self {
        case .number(let value): return value.isFinite ? nil : "$"
        case .null, .bool, .string: return nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let path = item.nonFiniteNumberPath { return "$[\(index)]" + path.dropFirst() }
            }
            return nil
        case .object(let fields):
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                if let path = value.nonFiniteNumberPath { return "$.\(key)" + path.dropFirst() }
            }
            return nil
        }
    }
}
