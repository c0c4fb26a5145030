import ActyCore
import ActyStore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Renders query results in one of the ``OutputFormat``s.
///
/// JSON field names are the SQL column names (snake_case, stable, documented on each ``ReadOnlyStore`` query);
/// columns holding JSON text (`payload`, `result`, `error`, `data`, `executors`) are embedded as JSON values.
struct Output {
    var format: OutputFormat
    /// The table width in characters (`Int.max`: no limit).
    var width: Int
    /// Whether to use ANSI colour (a TTY without `NO_COLOR`).
    var colour: Bool

    /// The output for standard output. On a TTY, tables fit its width (`COLUMNS`, else the terminal's, else 120);
    /// piped, they keep every character, so that no column a script or a pager needs is cut.
    static func standard(_ format: OutputFormat) -> Output {
        let environment = ProcessInfo.processInfo.environment
        let tty = isatty(1) == 1
        var width = Int.max
        if tty {
            var size = winsize()
            if let columns = environment["COLUMNS"].flatMap(Int.init), columns > 0 {
                width = columns
            } else if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
                width = Int(size.ws_col)
            } else {
                width = 120
            }
        }
        let colour = tty && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
        return Output(format: format, width: width, colour: colour)
    }

    static let jsonColumns: Set<String> = ["payload", "original_payload", "result", "error", "data", "executors", "result_handlers"]

    /// One table: an array of objects (json), one object per line (jsonl), CSV or a fitted table.
    func render(_ table: QueryTable, header: Bool = true) -> String {
        switch format {
        case .json:
            return "[" + table.rows.map { object(table.columns, $0) }.joined(separator: ",\n ") + "]\n"
        case .jsonl:
            return table.rows.map { object(table.columns, $0) + "\n" }.joined()
        case .csv:
            var lines = header ? [table.columns.map(csvField).joined(separator: ",")] : []
            lines += table.rows.map { $0.map { csvField(text($0)) }.joined(separator: ",") }
            return lines.map { $0 + "\n" }.joined()
        case .table:
            return fitted(table, header: header)
        }
    }

    /// Named sections; `single` sections hold one row and render as one object (or `null`) in JSON.
    func render(sections: [(String, QueryTable)], single: Set<String> = []) -> String {
        switch format {
        case .json, .jsonl:
            let fields = sections.map { name, table in
                let value = single.contains(name)
                    ? (table.rows.first.map { object(table.columns, $0) } ?? "null")
                    : "[" + table.rows.map { object(table.columns, $0) }.joined(separator: ", ") + "]"
                return JSONValue.string(name).jsonString + ": " + value
            }
            return "{" + fields.joined(separator: ", ") + "}\n"
        case .csv:
            return sections.map { name, table in "# \(name)\n" + render(table) }.joined(separator: "\n")
        case .table:
            return sections.map { name, table in
                let title = colour ? "\u{1B}[1m\(name)\u{1B}[0m" : name
                if single.contains(name), let row = table.rows.first {
                    let keyWidth = table.columns.map(\.count).max() ?? 0
                    let lines = zip(table.columns, row).map { column, value in
                        let key = column.padding(toLength: keyWidth, withPad: " ", startingAt: 0)
                        return Self.truncate(key + "  " + (Self.isTime(column) ? timeText(value) : text(value)), to: width)
                    }
                    return title + "\n" + lines.map { $0 + "\n" }.joined()
                }
                return title + "\n" + (table.rows.isEmpty ? "(none)\n" : fitted(table, header: true))
            }.joined(separator: "\n")
        }
    }

    // MARK: Values

    func object(_ columns: [String], _ row: [JSONValue]) -> String {
        let fields = zip(columns, row).map { column, value in
            JSONValue.string(column).jsonString + ": " + json(column, value)
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    private func json(_ column: String, _ value: JSONValue) -> String {
        if Self.jsonColumns.contains(column), case .string(let text) = value, let parsed = try? JSONValue(jsonString: text) {
            return parsed.jsonString
        }
        if case .number(let number) = value, number == number.rounded(), abs(number) < 1e15 {
            return String(Int64(number))
        }
        return value.jsonString
    }

    func text(_ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .number(let number):
            if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
            return String(format: "%.3f", number)
        case .string(let string): return string.replacingOccurrences(of: "\n", with: " ")
        default: return value.jsonString
        }
    }

    /// Whether a column holds a Unix time (`created_at`, `lease_until`, ...): tables show those as UTC times.
    static func isTime(_ column: String) -> Bool { column.hasSuffix("_at") || column == "lease_until" || column == "at" }

    /// A Unix time as `MM-dd HH:mm:ss` UTC, for tables.
    func timeText(_ value: JSONValue) -> String {
        guard case .number(let seconds) = value else { return text(value) }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%02d-%02d %02d:%02d:%02d", parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    private func csvField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: Tables

    static func truncate(_ text: String, to width: Int) -> String {
        guard text.count > width else { return text }
        guard width > 1 else { return String(text.prefix(width)) }
        return String(text.prefix(width - 1)) + "…"
    }

    /// Column widths that fit `width`: first headers longer than their values are cut down to the values, then
    /// the widest columns shrink, down to 4 characters.
    func columnWidths(_ table: QueryTable) -> [Int] {
        let values = table.columns.indices.map { index in
            let render = Self.isTime(table.columns[index]) ? timeText : text
            return table.rows.map { render($0[index]).count }.max() ?? 0
        }
        var widths = table.columns.indices.map { max(table.columns[$0].count, values[$0]) }
        let separators = 2 * max(widths.count - 1, 0)
        func tooWide() -> Bool { widths.reduce(0, +) + separators > width }
        while tooWide(), let index = widths.indices.filter({ widths[$0] > max(values[$0], 4) }).max(by: { widths[$0] < widths[$1] }) {
            widths[index] -= 1
        }
        while tooWide(), let widest = widths.indices.max(by: { widths[$0] < widths[$1] }), widths[widest] > 4 {
            widths[widest] -= 1
        }
        return widths
    }

    private func fitted(_ table: QueryTable, header: Bool) -> String {
        let widths = columnWidths(table)
        func line(_ cells: [String]) -> String {
            let text = zip(cells, widths).map { cell, width in
                Self.truncate(cell, to: width).padding(toLength: width, withPad: " ", startingAt: 0)
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            // Too many columns for even the narrowest cells: cut the line itself.
            return Self.truncate(text, to: width)
        }
        var lines: [String] = []
        if header {
            let head = line(table.columns)
            lines.append(colour ? "\u{1B}[1m\(head)\u{1B}[0m" : head)
        }
        let times = table.columns.map(Self.isTime)
        lines += table.rows.map { row in line(zip(row, times).map { $1 ? timeText($0) : text($0) }) }
        return lines.map { $0 + "\n" }.joined()
    }
}

/// Writes to standard output without buffering, so `--follow` output reaches a pipe at once.
func emit(_ text: String) {
    guard !text.isEmpty else { return }
    FileHandle.standardOutput.write(Data(text.utf8))
}
