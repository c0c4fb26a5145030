/// A fixed-capacity buffer keeping the newest elements: memory stays bounded however long a run is followed.
package struct Ring<Element: Sendable>: Sendable {
    package let capacity: Int
    private var storage: [Element] = []
    private var next = 0

    package init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        storage.reserveCapacity(min(capacity, 1024))
    }

    /// How many elements it holds.
    package var count: Int { storage.count }

    /// Adds an element; when full, drops the oldest and returns it.
    @discardableResult
    package mutating func append(_ element: Element) -> Element? {
        var dropped: Element?
        if storage.count < capacity {
            storage.append(element)
        } else {
            dropped = storage[next]
            storage[next] = element
        }
        next = (next + 1) % capacity
        return dropped
    }

    /// The elements, oldest first.
    package var elements: [Element] {
        storage.count < capacity ? storage : Array(storage[next...] + storage[..<next])
    }

    /// The newest `n` elements, newest first.
    package func newest(_ n: Int) -> [Element] {
        var result: [Element] = []
        result.reserveCapacity(min(n, storage.count))
        var index = next
        for _ in 0..<min(n, storage.count) {
            index = (index - 1 + storage.count) % storage.count
            result.append(storage[index])
        }
        return result
    }
}

/// Values per second of event time over the last `capacity` seconds (throughput, queue depth), for sparklines.
package struct SecondSeries: Sendable, Hashable {
    package let capacity: Int
    /// The values, oldest first; the last one is the current (partial) second.
    package private(set) var values: [Int] = []
    /// The second (Unix epoch, floored) of the last value.
    package private(set) var lastSecond: Int64?

    package init(capacity: Int = 120) { self.capacity = capacity }

    /// Moves the current second to `at`'s, filling skipped seconds with zero (counts) or the last value (levels,
    /// `carry`); an earlier `at` stays in the current second.
    mutating func advance(to at: Double, carry: Bool) {
        let second = Int64(at.rounded(.down))
        guard let last = lastSecond else {
            lastSecond = second
            values = [0]
            return
        }
        guard second > last else { return }
        let fill = carry ? values.last ?? 0 : 0
        for _ in 0..<Int(min(second - last, Int64(capacity))) { values.append(fill) }
        if values.count > capacity { values.removeFirst(values.count - capacity) }
        lastSecond = second
    }

    /// Adds `n` to the current second (`at`'s).
    package mutating func add(_ n: Int, at: Double) {
        advance(to: at, carry: false)
        values[values.count - 1] += n
    }

    /// Sets the current second's value (`at`'s) to `n`.
    package mutating func set(_ n: Int, at: Double) {
        advance(to: at, carry: true)
        values[values.count - 1] = n
    }
}
