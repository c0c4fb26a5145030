import ActyCore
import ActyStore
import Foundation
import PostgresNIO

/// One decoded result row, read the way SQLite converts values (the ``SQLColumns`` contract): a null is 0 as a
/// number and empty as text, an integer read as text is its decimal digits, text read as a number is the number it
/// spells (0 when it spells none), a real read as an integer is truncated, a boolean is 1 or 0.
package struct PostgresRowColumns: SQLColumns {
    enum Value: Equatable {
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
    }

    let values: [Value]

    /// Decodes every column of `row`.
    ///
    /// - Throws: ``ActyError/Code/storage`` for a column of a type the storage layer does not read (it reads
    ///   integers, reals, numerics, booleans and text).
    init(_ row: PostgresRow, sql: String) throws {
        var values: [Value] = []
        values.reserveCapacity(row.count)
        for cell in row {
            values.append(try Self.decode(cell, sql: sql))
        }
        self.values = values
    }

    init(values: [Value]) {
        self.values = values
    }

    private static func decode(_ cell: PostgresCell, sql: String) throws -> Value {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8:
                return .integer(try cell.decode(Int64.self))
            case .float4, .float8:
                return .real(try cell.decode(Double.self))
            case .bool:
                return .integer(try cell.decode(Bool.self) ? 1 : 0)
            case .text, .varchar, .name, .bpchar:
                return .text(try cell.decode(String.self))
            case .numeric:
                // SUM of integers is a numeric: an integer when it has no fraction, as in SQLite.
                let text = PostgresData(type: .numeric, formatCode: cell.format, value: cell.bytes).numeric?.string ?? ""
                if let integer = Int64(text) { return .integer(integer) }
                if let real = Double(text) { return .real(real) }
                throw ActyError(.storage, "column \(cell.columnName) holds the numeric \(text), which is not a number Acty reads")
            default:
                throw ActyError(
                    .storage,
                    "column \(cell.columnName) has PostgreSQL type \(cell.dataType), which the storage layer does not read (running \(sql))"
                )
            }
        } catch let error as ActyError {
            throw error
        } catch {
            throw ActyError(.storage, "cannot read column \(cell.columnName) of type \(cell.dataType): \(error)", cause: error)
        }
    }

    package func int64(_ column: Int32) -> Int64 {
        switch values[Int(column)] {
        case .null: 0
        case .integer(let value): value
        case .real(let value): Self.truncated(value)
        case .text(let value): Self.number(in: value).map { $0.integer ?? Self.truncated($0.real) } ?? 0
        }
    }

    package func double(_ column: Int32) -> Double {
        switch values[Int(column)] {
        case .null: 0
        case .integer(let value): Double(value)
        case .real(let value): value
        case .text(let value): Self.number(in: value).map { $0.integer.map(Double.init) ?? $0.real } ?? 0
        }
    }

    package func string(_ column: Int32) -> String {
        switch values[Int(column)] {
        case .null: ""
        case .integer(let value): String(value)
        case .real(let value): "\(value)"
        case .text(let value): value
        }
    }

    package func isNull(_ column: Int32) -> Bool { values[Int(column)] == .null }

    /// SQLite's conversion of a real to an integer: toward zero, clamped to Int64's range, NaN as 0.
    private static func truncated(_ value: Double) -> Int64 {
        if value.isNaN { return 0 }
        if value >= 9.223_372_036_854_775_807e18 { return .max }
        if value <= -9.223_372_036_854_775_808e18 { return .min }
        return Int64(value)
    }

    /// The number a text spells, after leading spaces: an integer when it has no fraction or exponent.
    private static func number(in text: String) -> (integer: Int64?, real: Double)? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let integer = Int64(trimmed) { return (integer, Double(integer)) }
        if let real = Double(trimmed) { return (nil, real) }
        return nil
    }
}
