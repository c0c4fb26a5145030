/// How a cell is drawn: a foreground colour and attributes. The plain-text form ignores it.
package struct Style: Sendable, Hashable {
    /// The eight ANSI colours.
    package enum Color: UInt8, Sendable, Hashable {
        case black, red, green, yellow, blue, magenta, cyan, white
    }

    package var color: Color?
    package var bold = false
    package var dim = false
    package var inverse = false

    package init(color: Color? = nil, bold: Bool = false, dim: Bool = false, inverse: Bool = false) {
        self.color = color
        self.bold = bold
        self.dim = dim
        self.inverse = inverse
    }

    package static let plain = Style()
    package static let title = Style(bold: true)
    package static let faint = Style(dim: true)
    package static let good = Style(color: .green)
    package static let bad = Style(color: .red)
    package static let busy = Style(color: .yellow)
    package static let info = Style(color: .cyan)
    package static let selected = Style(inverse: true)
}

/// One character cell of the screen.
package struct Cell: Sendable, Hashable {
    package var character: Character
    package var style: Style

    package init(_ character: Character = " ", _ style: Style = .plain) {
        self.character = character
        self.style = style
    }
}

/// A screen's worth of cells, row-major; what the view layer draws and the terminal layer diffs.
package struct Grid: Sendable, Hashable {
    package let width: Int
    package let height: Int
    package private(set) var cells: [Cell]

    package init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    package subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set { if x >= 0, x < width, y >= 0, y < height { cells[y * width + x] = newValue } }
    }

    /// Writes `text` from column `x` of row `y`, clipped to `limit` columns (and the grid); returns the column
    /// after the text.
    @discardableResult
    package mutating func write(_ text: String, x: Int, y: Int, style: Style = .plain, limit: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        let end = min(width, limit.map { x + $0 } ?? width)
        var column = x
        for character in text {
            guard column < end else { break }
            if column >= 0 { cells[y * width + column] = Cell(character, style) }
            column += 1
        }
        return column
    }

    /// The grid as text: one line per row, trailing spaces removed.
    package var plainText: String {
        var lines: [String] = []
        lines.reserveCapacity(height)
        for y in 0..<height {
            var line = String(cells[(y * width)..<((y + 1) * width)].map(\.character))
            while line.last == " " { line.removeLast() }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
