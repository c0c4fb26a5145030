import Acty
import Tracing

/// A tracer that keeps no span: it propagates a `traceparent`-style header, counts the spans that ended, and
/// otherwise does nothing. With it a benchmark measures what the engine's own instrumentation costs (span start,
/// attributes, context propagation), apart from any backend's processing and export.
struct MinimalTracer: Tracer {
    let ended = Counter()

    final class Counter: Sendable {
        private let value = Locked(0)
        func increment() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    struct IDs: Sendable, Hashable {
        var trace: UInt64
        var span: UInt64
    }

    private enum Key: ServiceContextKey {
        typealias Value = IDs
    }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind, at instant: @autoclosure () -> Instant,
        function: String, file fileID: String, line: UInt
    ) -> MinimalSpan {
        var context = context()
        let parent = context[Key.self]
        context[Key.self] = IDs(trace: parent?.trace ?? .random(in: 1...UInt64.max), span: .random(in: 1...UInt64.max))
        return MinimalSpan(context: context, operationName: operationName, ended: ended)
    }

    func forceFlush() {}

    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let ids = context[Key.self] else { return }
        injector.inject("00-\(ids.trace)-\(ids.span)-01", forKey: "traceparent", into: &carrier)
    }

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: "traceparent", from: carrier) else { return }
        let parts = header.split(separator: "-")
        guard parts.count == 4, let trace = UInt64(parts[1]), let span = UInt64(parts[2]) else { return }
        context[Key.self] = IDs(trace: trace, span: span)
    }
}

/// A span of ``MinimalTracer``: attributes kept under a lock, as a backend's span would, and dropped at the end.
final class MinimalSpan: Span {
    let context: ServiceContext
    private let state: Locked<(name: String, attributes: SpanAttributes)>
    private let ended: MinimalTracer.Counter

    init(context: ServiceContext, operationName: String, ended: MinimalTracer.Counter) {
        self.context = context
        self.state = Locked((operationName, [:]))
        self.ended = ended
    }

    var operationName: String {
        get { state.withLock { $0.name } }
        set { state.withLock { $0.name = newValue } }
    }

    var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    var isRecording: Bool { true }
    func setStatus(_ status: SpanStatus) {}
    func addEvent(_ event: SpanEvent) {}
    func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {}
    func addLink(_ link: SpanLink) {}
    func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) { ended.increment() }
}
