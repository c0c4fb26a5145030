import Foundation

/// Wall-clock time as stored in the database: Unix epoch seconds.
enum Clock {
    static var now: Double { Date().timeIntervalSince1970 }
}
