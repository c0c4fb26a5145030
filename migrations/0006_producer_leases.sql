-- Acty schema, version 6: producer leases.
--
-- Several producers can feed one open group: each holds a lease while it adds jobs, and the group closes when the
-- last lease is released. A lease belongs to the engine process that took it (`worker`): when that process stops or
-- is found dead, its leases end too, so a crashed producer cannot hold a group open forever.
CREATE TABLE producer_leases (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    worker TEXT NOT NULL,
    acquired_at REAL NOT NULL
);
CREATE INDEX producer_leases_group ON producer_leases(group_id);
CREATE INDEX producer_leases_worker ON producer_leases(worker);
