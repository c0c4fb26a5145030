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
