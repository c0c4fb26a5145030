// Hand-written rather than synthesized: the synthesized `==` and `hash(into:)` recurse once per level of nesting,
// and a value built in code may nest deeper than the stack allows.

extension JSONValue {
    /// Whether two values are equal: numbers as `Double` (`0 == -0`, NaN equals nothing), strings by canonical
    /// equivalence, arrays element by element, objects by their members whatever the key order.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        if let equal = shallowEqual(lhs, rhs, levelsLeft: JSONWriter.recursionLimit) { return equal }
        var pending: [(JSONValue, JSONValue)] = []
        var pair = (lhs, rhs)
        while true {
            switch pair {
            case (.array(let left), .array(let right)):
                guard left.count == right.count else { return false }
                pending.append(contentsOf: zip(left, right))
            case (.object(let left), .object(let right)):
                guard left.count == right.count else { return false }
                for (key, value) in left {
                    guard let other = right[key] else { return false }
                    pending.append((value, other))
                }
            default:
                guard shallowEqual(pair.0, pair.1, levelsLeft: 0) == true else { return false }
            }
            guard let next = pending.popLast() else { return true }
            pair = next
        }
    }

    /// Compares by recursion, the fast path for shallow values; `nil` when both nest deeper than `levelsLeft`
    /// levels where they are alike so far, which the caller then compares with its own stack.
    private static func shallowEqual(_ lhs: JSONValue, _ rhs: JSONValue, levelsLeft: Int) -> Bool? {
        switch (lhs, rhs) {
        case (.null, .null):
            return true
        case (.bool(let left), .bool(let right)):
            return left == right
        case (.number(let left), .number(let right)):
            return left == right
        case (.string(let left), .string(let right)):
            return left == right
        case (.array(let left), .array(let right)):
            guard left.count == right.count else { return false }
            guard levelsLeft > 0 else { return nil }
            for (leftElement, rightElement) in zip(left, right) {
                guard let equal = shallowEqual(leftElement, rightElement, levelsLeft: levelsLeft - 1) else { return nil }
                if !equal { return false }
            }
            return true
        case (.object(let left), .object(let right)):
            guard left.count == right.count else { return false }
            guard levelsLeft > 0 else { return nil }
            for (key, value) in left {
                guard let other = right[key] else { return false }
                guard let equal = shallowEqual(value, other, levelsLeft: levelsLeft - 1) else { return nil }
                if !equal { return false }
            }
            return true
        default:
            return false
        }
    }

    /// Hashes the value consistently with `==`.
    ///
    /// Only the first 16 levels are hashed in full; deeper containers contribute their kind and size.
    /// Equal values still hash equally, and the recursion stays shallow.
    public func hash(into hasher: inout Hasher) {
        hash(into: &hasher, levelsLeft: Self.hashedDepth)
    }

    /// How many levels of nesting ``hash(into:)`` looks into.
    static let hashedDepth = 16

    private func hash(into hasher: inout Hasher, levelsLeft: Int) {
        switch self {
        case .null:
            hasher.combine(0)
        case .bool(let value):
            hasher.combine(1)
            hasher.combine(value)
        case .number(let value):
            hasher.combine(2)
            hasher.combine(value)
        case .string(let value):
            hasher.combine(3)
            hasher.combine(value)
        case .array(let elements):
            hasher.combine(4)
            hasher.combine(elements.count)
            guard levelsLeft > 0 else { return }
            for element in elements {
                element.hash(into: &hasher, levelsLeft: levelsLeft - 1)
            }
        case .object(let members):
            hasher.combine(5)
            hasher.combine(members.count)
            guard levelsLeft > 0 else { return }
            // Members are unordered: combine their hashes with an order-independent sum, as `Dictionary` does.
            var sum = 0
            for (key, value) in members {
                var member = Hasher()
                member.combine(key)
                value.hash(into: &member, levelsLeft: levelsLeft - 1)
                sum &+= member.finalize()
            }
            hasher.combine(sum)
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value as compact JSON text, the same as ``jsonString``.
    public var description: String {
        jsonString
    }
}
