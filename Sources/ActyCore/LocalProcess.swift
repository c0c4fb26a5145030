import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Engines register their host and process id in `workers`: one on this machine whose process is gone has crashed,
/// and need not wait for its heartbeat to age. (A reused process id makes a dead engine look alive; its heartbeat
/// and leases then age as usual.)
package enum LocalProcess {
    /// This machine's name, as engines register it.
    package static let host = ProcessInfo.processInfo.hostName

    /// Whether the process `pid` registered on `host` is known to be gone: `host` is this machine and no such
    /// process runs (a zombie, killed and not yet reaped, counts as gone).
    package static func isGone(host: String?, pid: Int?) -> Bool {
        guard let pid, host == Self.host else { return false }
        return !exists(pid)
    }

    /// Whether a process exists and has not exited: a killed process whose parent has not reaped it yet is a
    /// zombie, which `kill(pid, 0)` still finds, so Linux's `/proc/<pid>/stat` is asked for its state too.
    package static func exists(_ pid: Int) -> Bool {
        guard pid > 0, pid <= Int(Int32.max) else { return false }
        guard kill(pid_t(pid), 0) == 0 else { return errno != ESRCH }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: end)...].drop(while: { $0 == " " }).first
        return state != "Z" && state != "X"
    }
}
