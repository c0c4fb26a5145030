-- Acty schema, version 7: follower dispatch per group.
--
-- `followers_warmup`: seconds after the primer starts before its followers may start (a provider's prefix cache
-- warming); `warm_until` is that moment, set when the primer starts. Followers released before it wait `scheduled`
-- until then. `max_followers_inflight` caps how many of the group's followers are released at once (1 runs them one
-- after the other); `followers_released_through` is the highest follower index released so far: each follower that
-- finishes releases the next, so at most the cap are unfinished at any time.
ALTER TABLE groups ADD COLUMN followers_warmup REAL CHECK (followers_warmup IS NULL OR followers_warmup >= 0);
ALTER TABLE groups ADD COLUMN warm_until REAL;
ALTER TABLE groups ADD COLUMN max_followers_inflight INTEGER CHECK (max_followers_inflight IS NULL OR max_followers_inflight >= 1);
ALTER TABLE groups ADD COLUMN followers_released_through INTEGER NOT NULL DEFAULT -1;
