import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether an engine's process is known to be gone: it ran on this host and its process no longer exists (or is a
/// zombie). Lets follow show a crashed engine as gone at once instead of after its heartbeat goes stale; the engine
/// rescues such a worker's jobs the same way. A reused pid makes a dead engine look alive until its heartbeat ages.
enum LocalProcess {
    static let host = ProcessInfo.processInfo.hostName

    static func isGone(host: String?, pid: Int?) -> Bool {
        guard let pid, host == Self.host, pid > 0, pid <= Int(Int32.max) else { return false }
        if kill(pid_t(pid), 0) != 0 { return errno == ESRCH }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let end = stat.lastIndex(of: ")") else {
            return false
        }
        let state = stat[stat.index(after: end)...].drop(while: { $0 == " " }).first
        return state == "Z" || state == "X"
    }
}
