/// Turns grids into terminal output: only the cells that changed since the last frame are written.
package enum ANSI {
    /// Switches to the alternate screen and hides the cursor.
    package static let enter = "\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J"
    /// Resets attributes, shows the cursor and leaves the alternate screen: the terminal is as before.
    package static let leave = "\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l"

    /// The bytes that turn the screen showing `old` (nil: unknown, redraw all) into `new`. Without `colors`, only
    /// bold and inverse are used (the selection stays visible).
    package static func frame(from old: Grid?, to new: Grid, colors: Bool) -> String {
        var out = ""
        let full = old == nil || old?.width != new.width || old?.height != new.height
        if full { out += "\u{1B}[0m\u{1B}[H\u{1B}[2J" }
        var current: Style? = full ? .plain : nil
        var cursor: (x: Int, y: Int)? = nil
        for y in 0..<new.height {
            for x in 0..<new.width {
                let cell = new[x, y]
                if !full, let old, old[x, y] == cell { continue }
                if full && cell == Cell() { continue }
                if cursor == nil || cursor! != (x, y) { out += "\u{1B}[\(y + 1);\(x + 1)H" }
                if current != cell.style {
                    out += sgr(cell.style, colors: colors)
                    current = cell.style
                }
                out.append(cell.character)
                cursor = x + 1 < new.width ? (x + 1, y) : nil
            }
        }
        if let current, current != .plain { out += "\u{1B}[0m" }
        return out
    }

    /// Select Graphic Rendition for a style, starting from a reset.
    static func sgr(_ style: Style, colors: Bool) -> String {
        var codes = ["0"]
        if style.bold { codes.append("1") }
        if style.inverse { codes.append("7") }
        if colors {
            if style.dim { codes.append("2") }
            if let color = style.color { codes.append(String(30 + Int(color.rawValue))) }
        }
        return "\u{1B}[" + codes.joined(separator: ";") + "m"
    }

    /// Whether to use colour: only on a terminal, never with `NO_COLOR` set (https://no-color.org) or `TERM=dumb`.
    package static func usesColor(isTerminal: Bool, environment: [String: String]) -> Bool {
        isTerminal && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
    }
}

/// A key press, decoded from the bytes a terminal in raw mode sends.
package enum Key: Sendable, Hashable {
    case character(Character)
    case up, down, pageUp, pageDown, enter, escape, backspace
    /// Ctrl-C (raw mode turns it into a byte, not a signal).
    case interrupt

    /// Decodes a burst of input bytes; unknown escape sequences are dropped.
    package static func parse(_ bytes: [UInt8]) -> [Key] {
        var keys: [Key] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case 0x1B:
                if index + 2 < bytes.count, bytes[index + 1] == 0x5B || bytes[index + 1] == 0x4F {
                    let code = bytes[index + 2]
                    switch code {
                    case 0x41: keys.append(.up)
                    case 0x42: keys.append(.down)
                    case 0x35, 0x36:
                        keys.append(code == 0x35 ? .pageUp : .pageDown)
                        if index + 3 < bytes.count, bytes[index + 3] == 0x7E { index += 1 }
                    default: break
                    }
                    index += 3
                    continue
                }
                keys.append(.escape)
            case 0x0D, 0x0A: keys.append(.enter)
            case 0x7F, 0x08: keys.append(.backspace)
            case 0x03: keys.append(.interrupt)
            case 0x20..<0x7F: keys.append(.character(Character(Unicode.Scalar(byte))))
            default:
                // A UTF-8 sequence: decode it whole.
                let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
                let end = min(bytes.count, index + length)
                if let text = String(validating: bytes[index..<end], as: UTF8.self), let character = text.first {
                    keys.append(.character(character))
                }
                index = end
                continue
            }
            index += 1
        }
        return keys
    }
}
