#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value threads share under a lock: the standard library's `Mutex`, with a pthread mutex underneath.
///
/// ThreadSanitizer knows pthread locks but not the atomics and futex calls `Mutex` locks with on Linux, so it
/// reported every access a `Mutex` guards as a data race, burying any real one (RELIABILITY.md, `Tools/tsan.sh`).
/// The lock is as cheap: both take an uncontended lock with one atomic instruction.
package final class Locked<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is only read and written between pthread_mutex_lock and pthread_mutex_unlock.
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    package init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    @inline(__always)
    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
