import Foundation

/// Wall-clock time as the database stores it, in Unix epoch seconds: the one clock of every timestamp, lease and
/// due time the engine and the store write.
package enum WallClock {
    package static var now: Double { Date().timeIntervalSince1970 }
}
