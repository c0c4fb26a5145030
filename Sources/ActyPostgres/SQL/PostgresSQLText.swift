/// The rewrites PostgreSQL needs of SQL the storage layer writes once for both databases, and of migration scripts.
///
/// Both scan the text the way PostgreSQL's lexer does, so that a `?` or `;` inside a string literal, a quoted
/// identifier, a comment or a dollar-quoted body is left alone.
enum PostgresSQLText {
    /// `sql` with SQLite's placeholders turned into PostgreSQL's: `?NNN` becomes `$NNN`, and a bare `?` becomes one
    /// more than the largest number before it (SQLite's rule), so `?` … `?` is `$1` … `$2` and `?1` … `?1` binds one
    /// value twice. `parameterCount` is the number of values to bind: the largest placeholder number.
    static func translatingPlaceholders(_ sql: String) -> (sql: String, parameterCount: Int) {
        let bytes = Array(sql.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 8)
        var largest = 0
        scan(bytes) { range, isCode in
            guard isCode else {
                output.append(contentsOf: bytes[range])
                return
            }
            var index = range.lowerBound
            while index < range.upperBound {
                let byte = bytes[index]
                index += 1
                guard byte == UInt8(ascii: "?") else {
                    output.append(byte)
                    continue
                }
                var number = 0
                var digits = 0
                while index < range.upperBound, let digit = digitValue(bytes[index]) {
                    number = number * 10 + digit
                    digits += 1
                    index += 1
                }
                if digits == 0 { number = largest + 1 }
                largest = max(largest, number)
                output.append(UInt8(ascii: "$"))
                output.append(contentsOf: String(number).utf8)
            }
        }
        return (String(decoding: output, as: UTF8.self), largest)
    }

    /// The statements of a script separated by `;`, each without its `;`, leaving out those that are only
    /// whitespace and comments. PostgreSQL's extended protocol runs one statement per query.
    static func statements(in script: String) -> [String] {
        let bytes = Array(script.utf8)
        var statements: [String] = []
        var start = 0
        var hasCode = false
        func finish(at end: Int) {
            if hasCode { statements.append(String(decoding: bytes[start..<end], as: UTF8.self)) }
            start = end + 1
            hasCode = false
        }
        scan(bytes) { range, isCode in
            guard isCode else {
                // A literal or quoted identifier is part of a statement; a comment is not.
                if !isComment(bytes, at: range.lowerBound) { hasCode = true }
                return
            }
            for index in range {
                switch bytes[index] {
                case UInt8(ascii: ";"): finish(at: index)
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"): break
                default: hasCode = true
                }
            }
        }
        if start < bytes.count { finish(at: bytes.count) }
        return statements
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }

    private static func isComment(_ bytes: [UInt8], at index: Int) -> Bool {
        index + 1 < bytes.count
            && ((bytes[index] == UInt8(ascii: "-") && bytes[index + 1] == UInt8(ascii: "-"))
                || (bytes[index] == UInt8(ascii: "/") && bytes[index + 1] == UInt8(ascii: "*")))
    }

    /// Splits `bytes` into consecutive runs of SQL code (`isCode`) and of literals, quoted identifiers, comments and
    /// dollar-quoted bodies (not code), calling `visit` for each run in order. An unterminated literal runs to the end.
    private static func scan(_ bytes: [UInt8], _ visit: (Range<Int>, _ isCode: Bool) -> Void) {
        var codeStart = 0
        var index = 0
        func emitQuoted(from start: Int, to end: Int) {
            if codeStart < start { visit(codeStart..<start, true) }
            visit(start..<end, false)
            codeStart = end
            index = end
        }
        while index < bytes.count {
            let byte = bytes[index]
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            switch byte {
            case UInt8(ascii: "'"):
                // E'…' allows backslash escapes: the E is code, the quote starts the literal.
                let escapes = index > 0 && (bytes[index - 1] == UInt8(ascii: "E") || bytes[index - 1] == UInt8(ascii: "e"))
                emitQuoted(from: index, to: endOfQuoted(bytes, from: index, quote: byte, backslashEscapes: escapes))
            case UInt8(ascii: "\""):
                emitQuoted(from: index, to: endOfQuoted(bytes, from: index, quote: byte, backslashEscapes: false))
            case UInt8(ascii: "-") where next == UInt8(ascii: "-"):
                var end = index
                while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
                emitQuoted(from: index, to: end)
            case UInt8(ascii: "/") where next == UInt8(ascii: "*"):
                emitQuoted(from: index, to: endOfBlockComment(bytes, from: index))
            case UInt8(ascii: "$"):
                if let end = endOfDollarQuoted(bytes, from: index) {
                    emitQuoted(from: index, to: end)
                } else {
                    index += 1
                }
            default:
                index += 1
            }
        }
        if codeStart < bytes.count { visit(codeStart..<bytes.count, true) }
    }

    /// The index after the closing quote of the literal or identifier opening at `start` (a doubled quote is an
    /// escaped one).
    private static func endOfQuoted(_ bytes: [UInt8], from start: Int, quote: UInt8, backslashEscapes: Bool) -> Int {
        var index = start + 1
        while index < bytes.count {
            if backslashEscapes && bytes[index] == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if bytes[index] == quote {
                if index + 1 < bytes.count && bytes[index + 1] == quote {
                    index += 2
                    continue
                }
                return index + 1
            }
            index += 1
        }
        return bytes.count
    }

    /// The index after the `*/` closing the comment opening at `start`; PostgreSQL's block comments nest.
    private static func endOfBlockComment(_ bytes: [UInt8], from start: Int) -> Int {
        var depth = 0
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: "/") && bytes[index + 1] == UInt8(ascii: "*") {
                depth += 1
                index += 2
            } else if bytes[index] == UInt8(ascii: "*") && bytes[index + 1] == UInt8(ascii: "/") {
                depth -= 1
                index += 2
                if depth == 0 { return index }
            } else {
                index += 1
            }
        }
        return bytes.count
    }

    /// The index after the body of `$tag$ … $tag$` opening at `start`, or `nil` when no dollar quote opens there (a
    /// parameter such as `$1`, or a `$` inside an identifier).
    private static func endOfDollarQuoted(_ bytes: [UInt8], from start: Int) -> Int? {
        if start > 0, isIdentifierByte(bytes[start - 1]) { return nil }
        var tagEnd = start + 1
        while tagEnd < bytes.count, bytes[tagEnd] != UInt8(ascii: "$") {
            guard isIdentifierByte(bytes[tagEnd]), digitValue(bytes[tagEnd]) == nil || tagEnd > start + 1 else { return nil }
            tagEnd += 1
        }
        guard tagEnd < bytes.count else { return nil }
        let tag = bytes[start...tagEnd]
        var index = tagEnd + 1
        while index + tag.count <= bytes.count {
            if bytes[index...].starts(with: tag) { return index + tag.count }
            index += 1
        }
        return bytes.count
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || byte >= 0x80 || digitValue(byte) != nil
            || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
    }
}
