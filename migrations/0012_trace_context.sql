-- Acty schema, version 12: trace context.
--
-- The submitter's tracing context (`ServiceContext`), as the tracer injected it (W3C `traceparent` and `tracestate`
-- for OpenTelemetry), stored as a JSON object of header names to values: each attempt's span is a child of the span
-- that submitted the group, also after a restart and in another process. NULL when no span was active or tracing is
-- off.
ALTER TABLE groups ADD COLUMN trace_context TEXT;
