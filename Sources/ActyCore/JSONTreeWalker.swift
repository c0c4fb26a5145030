// Values built in code can nest without bound (a million arrays one inside the other is a few lines), so nothing
// that visits a whole `JSONValue` may recurse once per level: the walk keeps its own stack on the heap.

/// A depth-first walk over a `JSONValue` in serialization order (array elements in order, object members by key),
/// without recursion.
///
/// The walk reports tokens to a visitor. When the visitor throws, the walk stops where it was, so ``path`` still
/// names the value the visitor was looking at.
struct JSONTreeWalker {
    /// What the walk met.
    enum Token {
        /// `null`, a boolean, a number or a string.
        case scalar(JSONValue)
        /// The start of an array or an object; ``depth`` is still that of the enclosing containers.
        case open(isObject: Bool)
        /// The comma between two elements or members.
        case comma
        /// The key of the object member that comes next.
        case key(String)
        /// The end of an array or an object.
        case close(isObject: Bool)
    }

    /// An array or an object being walked, and the position of the child the walk is in.
    private struct Frame {
        var elements: [JSONValue] = []
        var members: [(key: String, value: JSONValue)]? = nil
        var count: Int { members?.count ?? elements.count }
        /// The index of the next child to visit; the current child is at `next - 1`.
        var next = 0
    }

    private var stack: [Frame] = []

    /// How many containers enclose the current token.
    var depth: Int { stack.count }

    /// The path of the current value from the root, such as `$.scores[2]`.
    var path: String {
        var path = "$"
        for frame in stack where frame.next > 0 {
            if let members = frame.members {
                path += "." + members[frame.next - 1].key
            } else {
                path += "[\(frame.next - 1)]"
            }
        }
        return path
    }

    /// Walks `root`, calling `visit` with each token in order.
    mutating func walk<Failure: Error>(_ root: JSONValue, _ visit: (Token, borrowing JSONTreeWalker) throws(Failure) -> Void) throws(Failure) {
        stack.removeAll(keepingCapacity: true)
        var current: JSONValue? = root
        while true {
            if let value = current {
                current = nil
                switch value {
                case .array(let elements):
                    try visit(.open(isObject: false), self)
                    stack.append(Frame(elements: elements))
                case .object(let members):
                    try visit(.open(isObject: true), self)
                    stack.append(Frame(members: members.sorted { $0.key < $1.key }))
                case .null, .bool, .number, .string:
                    try visit(.scalar(value), self)
                }
            }
            guard let top = stack.last else { return }
            if top.next == top.count {
                stack.removeLast()
                try visit(.close(isObject: top.members != nil), self)
                continue
            }
            if top.next > 0 { try visit(.comma, self) }
            stack[stack.count - 1].next += 1
            if let members = top.members {
                try visit(.key(members[top.next].key), self)
                current = members[top.next].value
            } else {
                current = top.elements[top.next]
            }
        }
    }
}
