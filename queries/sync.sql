-- Statements of the sync run. sqlc turns them into internal/dbsqlc; each
-- runs as it is in psql with its parameters (@name) set.

-- name: AbandonRuns :many
-- Runs left 'running' in a scope that shares a device with this run's are
-- over, since this run holds the lock of every such scope (LockRun): their
-- processes died, or lost their database for longer than their lease and
-- can commit nothing more (the lock's fence). Scopes share a device as in
-- OverlappingLeases: the whole fleet with every scope, shards i/c and
-- i'/c' when i = i' (mod gcd(c, c')), so that shard 0/2 finds a dead 0/4
-- run, and 0/4 a dead 0/2 one. A run that still holds a lease is left
-- alone whatever its scope says. Their work lists go with them.
WITH me AS (
    SELECT CASE WHEN @scope::text = 'all' THEN 0 ELSE split_part(@scope::text, '/', 1)::int END AS idx,
           CASE WHEN @scope::text = 'all' THEN 0 ELSE split_part(@scope::text, '/', 2)::int END AS cnt
),
abandoned AS (
    UPDATE sync_runs r
    SET status = 'abandoned',
        finished_at = now(),
        updated_at = now(),
        error = 'it stopped without finishing (killed, crashed, or cut off from the database for longer than its lock''s lease); found by run ' || @found_by::bigint::text
    FROM me
    WHERE r.status = 'running'
      AND r.run_id <> @found_by::bigint
      AND (me.cnt = 0 OR r.scope = 'all'
           OR mod(me.idx - split_part(r.scope, '/', 1)::int, gcd(me.cnt, split_part(r.scope, '/', 2)::int)) = 0)
      AND NOT EXISTS (SELECT FROM run_leases l WHERE l.run_id = r.run_id)
    RETURNING r.run_id
),
dropped AS (
    DELETE FROM run_queue q
    USING abandoned a
    WHERE q.run_id = a.run_id
),
dropped_listing AS (
    DELETE FROM run_listing l
    USING abandoned a
    WHERE l.run_id = a.run_id
)
SELECT run_id FROM abandoned ORDER BY run_id;

-- name: StartRun :one
-- Records a run; QueueDueDevices counts its devices. started_at is when the
-- process started, if given, so that the run's recorded time includes
-- connecting and waiting for the lock.
INSERT INTO sync_runs (scope, detect, devices_total, started_at)
VALUES (@scope::text, @detect::text, 0, coalesce(sqlc.narg('started_at')::timestamptz, now()))
RETURNING run_id, started_at;

-- name: PreviousEndedRate :one
-- The rate the scope's last finished run before @run_id ended with (NULL:
-- it paced at the configured rate), for this run to start from. Runs that
-- sent no request to Webex, and those that died before finishing, do not
-- count: they learned nothing.
SELECT ended_rate
FROM sync_runs
WHERE scope = @scope::text
  AND run_id < @run_id::bigint
  AND status NOT IN ('running', 'abandoned')
  AND listing_requests + details_requests > 0
ORDER BY run_id DESC
LIMIT 1;

-- name: QueueDueDevices :many
-- Writes the run's work list, with why each device is in it, and records
-- its size. Sorting here, once, is what lets device_sync_state do without
-- an index on last_attempt_at.
--
-- Without the listing (@use_listing false) every device of the scope is
-- due ('all'), stalest first; the store writes that list with
-- QueueAllDevices, in one sort, and this branch is the reference the
-- test holds it to (TestQueueAllMatchesTheReasonedList). With the
-- listing, a device is due when its details
-- were never fetched, its last attempt failed, the listing of its org could
-- not be read whole, it is not in a complete listing (its details say
-- whether it is gone; a device already known gone waits for @max_age), the
-- listing flagged it (run_listing.reason), its org's listing is not trusted
-- (@distrusted_orgs), or its details are older than @max_age ('max_age').
--
-- The max-age refresh is spread, not a threshold the whole fleet crosses
-- at once: every run also refreshes the stalest of the devices nothing
-- else brings in, up to @refresh_share of the devices with details (the
-- run interval over the max age, see syncrun), so that a fleet synced in
-- one run comes due a share at a time. Of the devices the listing vouches
-- for, a random share (@sample_fraction, at least @sample_min) are fetched
-- all the same ('sample'), to check the listing.
--
-- The order is the priority: first what may have changed (never synced,
-- flagged by the listing, not listed, every device of a whole-fleet pass),
-- then failed devices, then the orgs whose listing was incomplete or is
-- not trusted, then the audit sample, then the refreshes; stalest first
-- within each. A budget or a signal that ends the run early cuts from the
-- end: refreshes before any device that may have changed.
--
-- Returns the count per reason; reason '' counts the devices confirmed by
-- the listing.
WITH scope AS (
    SELECT d.device_id, d.org_id, d.sync_status, d.first_synced_at,
           s.last_attempt_at, s.last_synced_at,
           l.device_id IS NOT NULL AS listed, l.reason AS listing_reason
    FROM devices d
    LEFT JOIN device_sync_state s USING (device_id)
    LEFT JOIN run_listing l ON l.run_id = @run_id::bigint AND l.device_id = d.device_id
    WHERE @shard_count::int = 0
       OR mod(d.shard_hash::bigint + 2147483648, @shard_count::int) = @shard_index::int
),
reasoned AS (
    SELECT sc.device_id, sc.org_id, sc.last_attempt_at,
           CASE
               WHEN NOT @use_listing::boolean THEN 'all'
               WHEN sc.first_synced_at IS NULL OR sc.last_synced_at IS NULL THEN 'never_synced'
               WHEN sc.sync_status IN ('error', 'forbidden', 'pending') THEN 'failed'
               WHEN NOT (coalesce(sc.org_id, '') = ANY (@complete_orgs::text[])) THEN 'listing_incomplete'
               WHEN coalesce(sc.org_id, '') = ANY (@distrusted_orgs::text[]) THEN 'listing_distrusted'
               WHEN sc.sync_status = 'not_found' THEN
                   CASE WHEN sc.listed THEN 'listed_again'
                        WHEN sc.last_attempt_at < now() - make_interval(secs => @max_age_seconds::float8) THEN 'max_age'
                   END
               WHEN NOT sc.listed THEN 'not_listed'
               WHEN sc.listing_reason IS NOT NULL THEN sc.listing_reason
               WHEN sc.last_synced_at < now() - make_interval(secs => @max_age_seconds::float8) THEN 'max_age'
           END AS reason,
           -- The refresh share is of the devices that have details to
           -- refresh; a gone device's recheck has its own rule above.
           sc.last_synced_at IS NOT NULL AND sc.sync_status <> 'not_found' AS refreshable
    FROM scope sc
),
refresh_size AS (
    -- How many more refreshes this run makes beyond the overdue ones: the
    -- steady share, less what is overdue already. Rounded to the nearest:
    -- runs seconds apart refresh nothing early.
    SELECT greatest(round(sqlc.arg(refresh_share)::float8 * count(*) FILTER (WHERE refreshable))::int
                    - count(*) FILTER (WHERE reason = 'max_age')::int, 0) AS n
    FROM reasoned
),
-- The picks read only the devices nothing else brings in (none at all in a
-- pass over every device), each a top-N: no sort of the whole scope.
refresh_pick AS (
    SELECT r.device_id
    FROM reasoned r
    WHERE r.reason IS NULL AND r.refreshable
    ORDER BY r.last_attempt_at, r.device_id
    LIMIT (SELECT n FROM refresh_size)
),
unpicked AS (
    SELECT r.device_id
    FROM reasoned r
    WHERE r.reason IS NULL
      AND NOT EXISTS (SELECT 1 FROM refresh_pick p WHERE p.device_id = r.device_id)
),
sample_pick AS (
    SELECT u.device_id
    FROM unpicked u
    ORDER BY random()
    LIMIT (SELECT greatest(sqlc.arg(sample_min)::int, ceil(sqlc.arg(sample_fraction)::float8 * count(*))::int)
           FROM unpicked)
),
sampled AS (
    SELECT r.device_id, r.org_id, r.last_attempt_at,
           coalesce(r.reason,
                    CASE WHEN rp.device_id IS NOT NULL THEN 'max_age'
                         WHEN sp.device_id IS NOT NULL THEN 'sample' END) AS reason
    FROM reasoned r
    LEFT JOIN refresh_pick rp ON rp.device_id = r.device_id
    LEFT JOIN sample_pick sp ON sp.device_id = r.device_id
),
queued AS (
    INSERT INTO run_queue (run_id, pos, device_id, org_id, reason)
    SELECT @run_id::bigint,
           row_number() OVER (ORDER BY CASE s.reason
                                           WHEN 'failed' THEN 1
                                           WHEN 'listing_incomplete' THEN 2
                                           WHEN 'listing_distrusted' THEN 2
                                           WHEN 'sample' THEN 3
                                           WHEN 'max_age' THEN 4
                                           ELSE 0
                                       END,
                                       s.last_attempt_at NULLS FIRST, s.device_id COLLATE "C"),
           s.device_id, s.org_id, s.reason
    FROM sampled s
    WHERE s.reason IS NOT NULL
    RETURNING reason
),
counted AS (
    SELECT coalesce(s.reason, '')::text AS reason, count(*)::int AS devices
    FROM sampled s
    GROUP BY 1
),
recorded AS (
    UPDATE sync_runs r
    SET devices_total     = (SELECT count(*) FROM queued),
        devices_confirmed = (SELECT coalesce(sum(devices), 0) FROM counted WHERE reason = ''),
        devices_refreshed = (SELECT coalesce(sum(devices), 0) FROM counted WHERE reason = 'max_age'),
        devices_listed    = (SELECT count(*) FROM scope WHERE listed),
        updated_at        = now()
    WHERE r.run_id = @run_id::bigint
)
SELECT reason, devices FROM counted ORDER BY reason;

-- name: QueueAllDevices :one
-- QueueDueDevices without the listing (@use_listing false): every device
-- of the scope is due ('all'), never attempted first, then stalest first,
-- as there; one sort and one insert, without the reasons' steps, which
-- decide nothing here. Returns the list's size.
WITH queued AS (
    INSERT INTO run_queue (run_id, pos, device_id, org_id, reason)
    SELECT @run_id::bigint,
           row_number() OVER (ORDER BY s.last_attempt_at NULLS FIRST, d.device_id COLLATE "C"),
           d.device_id, d.org_id, 'all'
    FROM devices d
    LEFT JOIN device_sync_state s USING (device_id)
    WHERE @shard_count::int = 0
       OR mod(d.shard_hash::bigint + 2147483648, @shard_count::int) = @shard_index::int
    RETURNING 1
),
recorded AS (
    UPDATE sync_runs r
    SET devices_total     = (SELECT count(*) FROM queued),
        devices_confirmed = 0,
        devices_refreshed = 0,
        -- A listing that was swept but may not be used (403) counts as
        -- in QueueDueDevices; without a sweep the run has no rows here.
        devices_listed    = (SELECT count(*)
                             FROM run_listing l
                             JOIN devices d ON d.device_id = l.device_id
                             WHERE l.run_id = @run_id::bigint
                               AND (@shard_count::int = 0
                                    OR mod(d.shard_hash::bigint + 2147483648, @shard_count::int) = @shard_index::int)),
        updated_at        = now()
    WHERE r.run_id = @run_id::bigint
    RETURNING r.devices_total
)
SELECT devices_total::int FROM recorded;

-- name: DuePage :many
-- One page of the run's work list, after position @after_pos.
SELECT pos, device_id, coalesce(org_id, '')::text AS org_id
FROM run_queue
WHERE run_id = @run_id::bigint
  AND pos > @after_pos::int
ORDER BY pos
LIMIT @page_size::int;

-- name: ApplyResults :one
-- Stores one batch of fetch results and its history in one statement, so
-- they commit together. Only what changed is written: a device whose
-- details and status are as stored keeps its devices row untouched (no new
-- row version, no WAL for its wide row), and only its narrow
-- device_sync_state row moves, as a HOT update. The run's counters move in
-- the same statement, so sync_runs always equals what the tables hold.
WITH input AS (
    -- Values arrive as text arrays, one element a device, '' for NULL (an
    -- array parameter's elements cannot be NULL in the generated code), and
    -- are cast here, once, in SQL. tags is each device's tag list as a JSON
    -- array (an array of arrays of different lengths cannot be a
    -- parameter).
    SELECT unnest(@device_ids::text[])                                    AS device_id,
           unnest(@outcomes::text[])                                      AS outcome,
           nullif(unnest(@manufacturers::text[]), '')                     AS manufacturer,
           nullif(unnest(@managed_bys::text[]), '')                       AS managed_by,
           nullif(unnest(@models::text[]), '')                            AS model,
           nullif(unnest(@ips::text[]), '')::inet                         AS ip,
           nullif(unnest(@macs::text[]), '')::macaddr                     AS mac,
           nullif(unnest(@activation_states::text[]), '')                 AS activation_state,
           nullif(unnest(@tags::text[]), '')::jsonb                       AS tags,
           nullif(unnest(@upgrade_channel_enableds::text[]), '')::boolean AS upgrade_channel_enabled,
           nullif(unnest(@owner_sip_user_names::text[]), '')              AS owner_sip_user_name,
           nullif(unnest(@owner_line_ports::text[]), '')                  AS owner_line_port,
           nullif(unnest(@outbound_proxies::text[]), '')                  AS outbound_proxy,
           nullif(unnest(@details::text[]), '')::jsonb                    AS details,
           nullif(unnest(@errors::text[]), '')                            AS last_error
),
-- The stored state of the devices still tracked, beside their new values,
-- and their device_sync_state row as it was before this statement (none:
-- the device was never attempted nor listed). No row lock: the run lock
-- makes this run the only writer of these rows, and a lock would itself
-- write to every row's page.
prev AS (
    SELECT i.device_id, i.outcome, i.manufacturer, i.managed_by, i.model, i.ip, i.mac,
           i.activation_state,
           CASE WHEN i.tags IS NULL THEN NULL
                ELSE ARRAY(SELECT jsonb_array_elements_text(i.tags)) END AS tags,
           i.upgrade_channel_enabled, i.owner_sip_user_name, i.owner_line_port,
           i.outbound_proxy, i.details, i.last_error,
           d.ip AS old_ip, d.mac AS old_mac, d.activation_state AS old_activation_state,
           st.has_state, st.last_synced_at AS old_synced_at, st.confirmed_at
    FROM input i
    -- Each device's rows by their key (the LIMIT keeps the look-up per
    -- row): a join would let the planner scan and hash the whole table for
    -- every batch, as it does for a table it takes for small.
    CROSS JOIN LATERAL (
        SELECT d.ip, d.mac, d.activation_state
        FROM devices d
        WHERE d.device_id = i.device_id
        LIMIT 1
    ) AS d
    -- When the job last saw the old IP and MAC in a trusted listing
    -- (ApplyListingPage; a NULL listing_confirmed_earlier means the
    -- listing at listed_at did).
    LEFT JOIN LATERAL (
        SELECT true AS has_state, s.last_synced_at,
               CASE WHEN s.listing_confirmed_earlier IS NULL THEN s.listed_at
                    ELSE nullif(s.listing_confirmed_earlier, '-infinity') END AS confirmed_at
        FROM device_sync_state s
        WHERE s.device_id = i.device_id
        LIMIT 1
    ) AS st ON true
),
synced AS (
    UPDATE devices d
    SET manufacturer            = p.manufacturer,
        managed_by              = p.managed_by,
        model                   = p.model,
        ip                      = p.ip,
        mac                     = p.mac,
        activation_state        = p.activation_state,
        tags                    = p.tags,
        upgrade_channel_enabled = p.upgrade_channel_enabled,
        owner_sip_user_name     = p.owner_sip_user_name,
        owner_line_port         = p.owner_line_port,
        outbound_proxy          = p.outbound_proxy,
        details                 = p.details,
        sync_status             = 'ok',
        last_error              = NULL,
        first_synced_at         = coalesce(d.first_synced_at, now()),
        last_changed_at         = CASE WHEN d.details IS DISTINCT FROM p.details THEN now()
                                       ELSE d.last_changed_at END
    FROM prev p
    WHERE d.device_id = p.device_id
      AND p.outcome = 'ok'
      -- A device's first result always writes its row (has_state NULL):
      -- the update's lock is what keeps its new state row from outliving
      -- a devices row deleted meanwhile (state_new; migration 00020).
      AND (p.has_state IS NULL
           OR d.sync_status <> 'ok'
           OR d.last_error IS NOT NULL
           OR d.first_synced_at IS NULL
           OR (d.manufacturer, d.managed_by, d.model, d.ip, d.mac, d.activation_state, d.tags,
               d.upgrade_channel_enabled, d.owner_sip_user_name, d.owner_line_port,
               d.outbound_proxy, d.details)
              IS DISTINCT FROM
              (p.manufacturer, p.managed_by, p.model, p.ip, p.mac, p.activation_state, p.tags,
               p.upgrade_channel_enabled, p.owner_sip_user_name, p.owner_line_port,
               p.outbound_proxy, p.details))
    RETURNING d.device_id,
              p.old_activation_state, d.activation_state AS new_activation_state,
              p.old_ip, d.ip AS new_ip,
              p.old_mac, d.mac AS new_mac,
              p.old_synced_at, p.confirmed_at, p.has_state
),
failed AS (
    UPDATE devices d
    SET sync_status = p.outcome,
        last_error  = p.last_error
    FROM prev p
    WHERE d.device_id = p.device_id
      AND p.outcome <> 'ok'
      AND (p.has_state IS NULL
           OR (d.sync_status, d.last_error) IS DISTINCT FROM (p.outcome, p.last_error))
    RETURNING d.device_id, p.outcome, p.has_state
),
-- The bookkeeping row: updated in place where it existed when the
-- statement began, inserted otherwise (a first sync). Not one INSERT ...
-- ON CONFLICT DO UPDATE for all: that locks every existing row before
-- updating it, a WAL record a device on every run. The insert keeps ON
-- CONFLICT for a row written since by another statement (a batch sent
-- twice at once).
--
-- A new row is written only for a device whose devices row this statement
-- updated (synced or failed, which hold the row's lock and saw its latest
-- version): a device deleted since the statement began gets none, and a
-- delete that comes later waits for this commit, then its trigger removes
-- the row (migration 00020: no foreign key). The rows come from the
-- updates' own RETURNING, not from a join: the batch runs without hash
-- and merge joins (PlanBatchWrite), and a nested loop over two CTEs of a
-- batch each would compare every pair.
first_written AS (
    SELECT device_id, 'ok'::text AS outcome FROM synced WHERE has_state IS NULL
    UNION ALL
    SELECT device_id, outcome FROM failed WHERE has_state IS NULL
),
state_new AS (
    INSERT INTO device_sync_state AS s (device_id, last_attempt_at, last_synced_at, last_run_id, consecutive_failures)
    SELECT f.device_id, now(),
           CASE WHEN f.outcome = 'ok' THEN now() END,
           @run_id::bigint,
           CASE WHEN f.outcome IN ('ok', 'not_found') THEN 0 ELSE 1 END
    FROM first_written f
    ORDER BY f.device_id
    ON CONFLICT (device_id) DO UPDATE
    SET last_attempt_at      = EXCLUDED.last_attempt_at,
        last_synced_at       = coalesce(EXCLUDED.last_synced_at, s.last_synced_at),
        last_run_id          = EXCLUDED.last_run_id,
        consecutive_failures = CASE WHEN EXCLUDED.consecutive_failures = 0 THEN 0
                                    WHEN s.last_run_id = EXCLUDED.last_run_id THEN s.consecutive_failures
                                    ELSE s.consecutive_failures + 1 END
),
state AS (
    UPDATE device_sync_state s
    SET last_attempt_at      = now(),
        last_synced_at       = CASE WHEN p.outcome = 'ok' THEN now() ELSE s.last_synced_at END,
        last_run_id          = @run_id::bigint,
        -- A failure counts once a run: a batch sent again after a lost
        -- answer (this run attempted the device already) adds none.
        consecutive_failures = CASE WHEN p.outcome IN ('ok', 'not_found') THEN 0
                                    WHEN s.last_run_id = @run_id::bigint THEN s.consecutive_failures
                                    ELSE s.consecutive_failures + 1 END
    FROM prev p
    WHERE s.device_id = p.device_id
      AND p.has_state
    RETURNING p.outcome
),
-- The results stored: a device deleted since the statement began has no
-- state row left to update or insert, is not counted, and ApplyResults
-- reports it missing.
stored AS (
    SELECT outcome FROM first_written
    UNION ALL
    SELECT outcome FROM state
),
changes AS (
    -- Each change's window opens when the job last saw the old value: the
    -- last successful fetch of the details, or for IP and MAC a later
    -- trusted listing that showed it, both as they were before this
    -- statement's own update of device_sync_state (prev).
    INSERT INTO device_changes (device_id, run_id, field, old_value, new_value, changed_at, old_value_seen_at)
    SELECT s.device_id, @run_id::bigint, v.field, v.old_value, v.new_value, now(), v.seen_at
    FROM synced s
    CROSS JOIN LATERAL (VALUES
        ('activation_state', s.old_activation_state, s.new_activation_state, s.old_synced_at),
        ('ip', host(s.old_ip), host(s.new_ip), greatest(s.old_synced_at, s.confirmed_at)),
        ('mac', s.old_mac::text, s.new_mac::text, greatest(s.old_synced_at, s.confirmed_at))
    ) AS v (field, old_value, new_value, seen_at)
    WHERE v.old_value IS DISTINCT FROM v.new_value
    ORDER BY s.device_id, v.field
    RETURNING device_id
),
counts AS (
    SELECT (SELECT count(*) FROM stored WHERE outcome = 'ok')::int AS ok,
           (SELECT count(*) FROM stored WHERE outcome = 'not_found')::int AS not_found,
           (SELECT count(*) FROM stored WHERE outcome NOT IN ('ok', 'not_found'))::int AS failed,
           (SELECT count(DISTINCT device_id) FROM changes)::int AS changed,
           (SELECT count(*) FROM changes)::int AS changes
)
UPDATE sync_runs r
SET devices_ok        = r.devices_ok + c.ok,
    devices_not_found = r.devices_not_found + c.not_found,
    devices_failed    = r.devices_failed + c.failed,
    devices_changed   = r.devices_changed + c.changed,
    changes_recorded  = r.changes_recorded + c.changes,
    updated_at        = now()
FROM counts c
WHERE r.run_id = @run_id::bigint
RETURNING c.ok, c.not_found, c.failed, c.changed, c.changes;

-- name: FinishRun :one
-- Records how the run ended. Its counters moved with every batch, in the
-- batch's own statement, so they equal what the tables hold unless a batch
-- was sent twice after a lost connection (its first attempt may have
-- committed): then (@recount) the final accounting is recounted from the
-- rows the run wrote. The recount reads every state row and the run's
-- history, most of a second for 100,000 devices, so it runs only then.
-- The run's work list goes.
WITH stored AS (
    SELECT count(*) FILTER (WHERE d.sync_status = 'ok')::int AS ok,
           count(*) FILTER (WHERE d.sync_status = 'not_found')::int AS not_found,
           count(*) FILTER (WHERE d.sync_status IN ('forbidden', 'error'))::int AS failed
    FROM device_sync_state s
    JOIN devices d USING (device_id)
    WHERE @recount::boolean
      AND s.last_run_id = @run_id::bigint
),
history AS (
    -- Distinct in byte order (COLLATE "C"): the same devices, counted
    -- without the database's collation rules.
    SELECT count(DISTINCT device_id COLLATE "C")::int AS changed, count(*)::int AS changes
    FROM device_changes
    WHERE @recount::boolean
      AND run_id = @run_id::bigint
),
dropped AS (
    DELETE FROM run_queue WHERE run_id = @run_id::bigint
),
dropped_listing AS (
    DELETE FROM run_listing WHERE run_id = @run_id::bigint
)
UPDATE sync_runs r
SET status            = @status::text,
    finished_at       = now(),
    updated_at        = now(),
    error             = sqlc.narg(error)::text,
    throttled         = @throttled::int,
    listing_status    = sqlc.narg(listing_status)::text,
    listing_error     = sqlc.narg(listing_error)::text,
    listing_requests  = @listing_requests::int,
    details_requests  = @details_requests::int,
    ended_rate        = sqlc.narg(ended_rate)::float8,
    devices_ok        = CASE WHEN @recount::boolean THEN s.ok ELSE r.devices_ok END,
    devices_not_found = CASE WHEN @recount::boolean THEN s.not_found ELSE r.devices_not_found END,
    devices_failed    = CASE WHEN @recount::boolean THEN s.failed ELSE r.devices_failed END,
    devices_changed   = CASE WHEN @recount::boolean THEN h.changed ELSE r.devices_changed END,
    changes_recorded  = CASE WHEN @recount::boolean THEN h.changes ELSE r.changes_recorded END,
    devices_skipped   = greatest(r.devices_total
                                 - CASE WHEN @recount::boolean THEN s.ok + s.not_found + s.failed
                                        ELSE r.devices_ok + r.devices_not_found + r.devices_failed END, 0)
FROM stored s, history h
WHERE r.run_id = @run_id::bigint
RETURNING r.devices_ok, r.devices_not_found, r.devices_failed, r.devices_changed, r.changes_recorded, r.devices_skipped;

-- name: CountNewFailures :one
-- The devices a run failed that --tolerate-forbidden does not forgive:
-- every error, and every forbidden device that was not already failing in
-- the run before (its first failed run in a row is a new failure).
SELECT count(*)::int AS new_failures
FROM devices d
JOIN device_sync_state s USING (device_id)
WHERE s.last_run_id = @run_id::bigint
  AND d.sync_status IN ('forbidden', 'error')
  AND NOT (d.sync_status = 'forbidden' AND s.consecutive_failures >= 2);

-- name: RecentRunInterval :one
-- How often the scope runs: the median time between the starts of its last
-- six runs, this one included (0 before a second run). It sets the share
-- of the fleet each run refreshes.
WITH recent AS (
    SELECT started_at
    FROM sync_runs
    WHERE scope = @scope::text
      AND run_id <= @run_id::bigint
    ORDER BY run_id DESC
    LIMIT 6
),
gaps AS (
    SELECT extract(epoch FROM started_at - lag(started_at) OVER (ORDER BY started_at))::float8 AS gap
    FROM recent
)
SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY gap), 0)::float8 AS seconds
FROM gaps
WHERE gap > 0;

-- name: RaiseWorkMem :exec
-- Raises work_mem for the rest of the transaction (SET LOCAL), never lowers
-- it. The work list's sort and the freshness aggregate hold a row a device
-- of the scope, which the server's default (4MB) spills to temporary files
-- from about 15,000 devices on.
SELECT set_config('work_mem', @work_mem::text, true)
WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes(@work_mem::text);

-- name: DetailsAge :one
-- How stale the details of the scope's devices are now: the oldest, and
-- the 99th percentile, in seconds. Devices never synced and devices Webex
-- no longer knows (not_found) have no details to age, and are counted
-- apart.
SELECT count(*)::int                                                      AS devices,
       count(s.last_synced_at) FILTER (WHERE d.sync_status <> 'not_found')::int AS with_details,
       count(*) FILTER (WHERE d.sync_status = 'not_found')::int          AS gone,
       coalesce(extract(epoch FROM now() - min(s.last_synced_at) FILTER (WHERE d.sync_status <> 'not_found')), 0)::float8 AS age_max_seconds,
       coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM now() - s.last_synced_at))
                    FILTER (WHERE d.sync_status <> 'not_found'), 0)::float8 AS age_p99_seconds
FROM devices d
LEFT JOIN device_sync_state s USING (device_id)
WHERE @shard_count::int = 0
   OR mod(d.shard_hash::bigint + 2147483648, @shard_count::int) = @shard_index::int;

-- name: SetRunDetailsAge :exec
-- Records how stale the scope's details were when the run ended.
UPDATE sync_runs
SET details_age_max_seconds = sqlc.narg(age_max_seconds)::float8,
    details_age_p99_seconds = sqlc.narg(age_p99_seconds)::float8,
    updated_at              = now()
WHERE run_id = @run_id::bigint;

-- name: ClearRunQueue :exec
-- Empties a run's work list, so that QueueDueDevices sent again after its
-- answer was lost (it may have committed) writes the list anew.
DELETE FROM run_queue WHERE run_id = @run_id::bigint;
