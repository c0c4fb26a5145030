// The value types of ActyCore (JSONValue, Job, JobResult, ids, states, policies) are part of Acty's API.
@_exported public import ActyCore
