-- Acty schema, version 8: admission.
--
-- With a cap on active groups (`EngineConfiguration.maxActiveGroups`), each group records where it stands:
-- `pending` (waiting for a slot, in FIFO order of id; its jobs held `blocked`), `admitted` (holds a slot until it
-- finishes) or `retired` (finished). NULL when no cap applied at its submission. Every engine on the file counts the
-- same rows inside its write transaction, so one cap holds across processes.
ALTER TABLE groups ADD COLUMN admission TEXT CHECK (admission = 'pending' OR admission = 'admitted' OR admission = 'retired');
-- The groups waiting for a slot; the next to admit is the first not waiting for a dependency (a blocked group holds
-- no slot).
CREATE INDEX groups_admission_pending ON groups(dependencies_waiting, id) WHERE admission = 'pending';
-- The groups holding a slot.
CREATE INDEX groups_admission_active ON groups(id) WHERE admission = 'admitted';
-- One row: how many groups are pending (kept by each transition, so that `groups_pending` costs no count of the
-- queue), and the burst (`EngineConfiguration.burstAllowance`) as last decided by a claim, written on changes only so
-- that `burst_on`/`burst_off`/`cap_changed` are recorded once per change across every engine on the file (NULL
-- before any decision).
CREATE TABLE admission_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    pending     INTEGER NOT NULL DEFAULT 0 CHECK (pending >= 0),
    bursting    INTEGER CHECK (bursting = 0 OR bursting = 1),
    cap         INTEGER CHECK (cap >= 1),
    changed_at  REAL
);
