extension EventRecord {
    /// The version of the JSONL envelope, as in Python acty.
    package static let jsonlSchemaVersion = 1

    /// The event as one line of Python acty's JSONL event log (without the trailing newline).
    ///
    /// Keys come in acty's order: `schema_version, run_id, seq, ts, type, payload, job_id, group_id, follower_id,
    /// pool, kind`. `group_id` is the group key, `follower_id` the follower's index, `kind` the job's role; the
    /// payload is the event's data with the lane added, so logs of either implementation replay in either TUI.
    ///
    /// - Parameter runID: the run the event belongs to; defaults to the worker that wrote it.
    package func jsonlLine(runID: String? = nil) -> String {
        var payload = data.flatMap { try? JSONValue(jsonString: $0) }
        if let lane {
            if case .object(var fields)? = payload {
                if fields["lane"] == nil { fields["lane"] = .string(lane) }
                payload = .object(fields)
            } else if payload == nil {
                payload = ["lane": .string(lane)]
            }
        }
        var line = #"{"schema_version": \#(Self.jsonlSchemaVersion), "run_id": "#
        line += Self.json(runID ?? worker)
        line += #", "seq": \#(seq), "ts": \#(at), "type": "#
        line += JSONValue.string(type).jsonString
        line += #", "payload": "#
        line += payload?.jsonString ?? "null"
        line += #", "job_id": "#
        line += Self.json(jobID.map { String($0.rawValue) })
        line += #", "group_id": "#
        line += Self.json(groupKey)
        line += #", "follower_id": "#
        line += Self.json(followerIndex.map(String.init))
        line += #", "pool": "#
        line += Self.json(pool?.rawValue)
        line += #", "kind": "#
        line += Self.json(role?.rawValue)
        line += "}"
        return line
    }

    private static func json(_ string: String?) -> String {
        string.map { JSONValue.string($0).jsonString } ?? "null"
    }
}
