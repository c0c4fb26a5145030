import Foundation

/// Text pieces the screens are made of: bars, sparklines, numbers that fit a column.
enum Glyphs {
    /// Left-aligned blocks of 1/8 to 8/8 of a cell.
    static let eighths: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"]
    static let sparks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// A bar `width` cells wide filled to `fraction` (0...1) with ⅛-cell precision, the rest `empty`.
    static func bar(_ fraction: Double, width: Int, empty: Character = "·") -> String {
        guard width > 0 else { return "" }
        let eighthsFilled = Int((max(0, min(1, fraction.isFinite ? fraction : 0)) * Double(width * 8)).rounded())
        var text = String(repeating: "█", count: eighthsFilled / 8)
        if eighthsFilled % 8 > 0 { text.append(eighths[eighthsFilled % 8 - 1]) }
        return text + String(repeating: empty, count: width - text.count)
    }

    /// The newest `width` values as a sparkline scaled to their maximum (blank when all are zero).
    static func sparkline(_ values: [Int], width: Int) -> String {
        let shown = values.suffix(width)
        let top = shown.max() ?? 0
        let line = shown.map { value -> Character in
            guard top > 0, value > 0 else { return " " }
            return sparks[min(7, (value * 8 - 1) / top)]
        }
        return String(repeating: " ", count: width - line.count) + String(line)
    }

    /// `text` cut or padded to exactly `width` columns; cut text ends in `…`.
    static func fit(_ text: String, _ width: Int, right: Bool = false) -> String {
        guard width > 0 else { return "" }
        if text.count > width { return String(text.prefix(width - 1)) + "…" }
        let pad = String(repeating: " ", count: width - text.count)
        return right ? pad + text : text + pad
    }

    /// `text` in exactly `width` columns, keeping its end when too long (`…priority/api-3`): group keys differ at
    /// the end (acty-demo's all start with the run id).
    static func fitTail(_ text: String, _ width: Int) -> String {
        guard width > 0 else { return "" }
        if text.count > width { return "…" + String(text.suffix(width - 1)) }
        return text + String(repeating: " ", count: width - text.count)
    }

    /// A count in at most 5 columns: 999, 12.3k, 4.56M.
    static func count(_ n: Int) -> String {
        switch abs(n) {
        case ..<10_000: String(n)
        case ..<1_000_000: String(format: "%.1fk", Double(n) / 1000)
        default: String(format: "%.2fM", Double(n) / 1_000_000)
        }
    }

    static func rate(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    /// A duration: 0.42s, 12.3s, 4m05s, 2h03m.
    static func duration(_ seconds: Double) -> String {
        let s = max(0, seconds)
        switch s {
        case ..<10: return String(format: "%.2fs", s)
        case ..<60: return String(format: "%.1fs", s)
        case ..<3600: return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60)
        default: return String(format: "%dh%02dm", Int(s) / 3600, Int(s) % 3600 / 60)
        }
    }

    /// The time of day in UTC with milliseconds: the same on every machine, so frames are reproducible.
    static func clock(_ at: Double) -> String {
        let millis = Int64((at * 1000).rounded(.down))
        let day = ((millis % 86_400_000) + 86_400_000) % 86_400_000
        return String(format: "%02d:%02d:%02d.%03d", day / 3_600_000, day / 60_000 % 60, day / 1000 % 60, day % 1000)
    }

    /// The last two `:`- or `/`-separated parts of an id (Python acty's `priority:g0:primer:1` → `primer:1`,
    /// acty-demo's `run-…/priority/api-3` → `priority/api-3`), whole otherwise.
    static func shortID(_ id: String) -> String {
        for separator: Character in [":", "/"] {
            let parts = id.split(separator: separator)
            if parts.count > 2 { return parts.suffix(2).joined(separator: String(separator)) }
        }
        return id
    }
}
