-- Statements that manage which devices are tracked: devices add, import,
-- remove and list, discovery, and the retention prune of history.
-- Parameters are pgx named arguments (@name).

-- name: TrackDevices
-- Adds the devices not tracked yet and sets org_id where one is given and
-- differs; a device already tracked as given is not rewritten, so that
-- importing the same file twice changes nothing. Returns what changed.
WITH input AS (
    SELECT t.device_id, t.org_id
    FROM unnest(@device_ids::text[], @org_ids::text[]) AS t (device_id, org_id)
),
prev AS (
    SELECT d.device_id, d.org_id
    FROM devices d
    JOIN input i USING (device_id)
),
upserted AS (
    INSERT INTO devices (device_id, org_id)
    SELECT device_id, org_id FROM input
    ON CONFLICT (device_id) DO UPDATE
        SET org_id = EXCLUDED.org_id
        WHERE EXCLUDED.org_id IS NOT NULL
          AND devices.org_id IS DISTINCT FROM EXCLUDED.org_id
    RETURNING device_id, org_id
)
SELECT u.device_id,
       p.device_id IS NULL AS added,
       p.org_id            AS old_org_id,
       u.org_id            AS new_org_id
FROM upserted u
LEFT JOIN prev p USING (device_id)
ORDER BY u.device_id;

-- name: UntrackDevices
-- Stops tracking devices. Their history in device_changes stays: it has no
-- foreign key to devices on purpose.
DELETE FROM devices
WHERE device_id = ANY (@device_ids::text[])
RETURNING device_id;

-- name: ListDevices
SELECT device_id,
       org_id,
       sync_status,
       model,
       host(ip)   AS ip,
       mac::text  AS mac,
       last_synced_at,
       last_error
FROM devices
WHERE cardinality(@statuses::text[]) = 0 OR sync_status = ANY (@statuses::text[])
ORDER BY device_id;

-- name: StartDiscovery
INSERT INTO discovery_runs (org_id, dry_run, prune)
VALUES (@org_id, @dry_run, @prune)
RETURNING discovery_id;

-- name: DiscoveryAdd
-- The listed devices not tracked yet. A device tracked under another org_id
-- counts as tracked.
INSERT INTO devices (device_id, org_id)
SELECT unnest(@device_ids::text[]), @org_id
ON CONFLICT (device_id) DO NOTHING
RETURNING device_id;

-- name: DiscoveryUnlisted
-- Tracked devices of the discovered org (org_id equal, or both absent) that
-- the listing did not return.
SELECT device_id
FROM devices
WHERE org_id IS NOT DISTINCT FROM @org_id
  AND NOT (device_id = ANY (@device_ids::text[]))
ORDER BY device_id;

-- name: FinishDiscovery
UPDATE discovery_runs
SET status         = @status,
    finished_at    = now(),
    pages          = @pages,
    devices_listed = @devices_listed,
    calling_listed = @calling_listed,
    rejected       = @rejected,
    added          = @added,
    unlisted       = @unlisted,
    removed        = @removed,
    error          = @error
WHERE discovery_id = @discovery_id;

-- name: CountHistoryBefore
SELECT count(*), now() - make_interval(days => @days::int)
FROM device_changes
WHERE changed_at < now() - make_interval(days => @days::int);

-- name: PruneHistory
-- The one way rows leave device_changes. The caller has set
-- wxc_sync.allow_history_prune for this transaction only; the prune itself
-- is recorded in history_prunes in the same statement.
WITH cut AS (
    SELECT now() - make_interval(days => @days::int) AS cutoff
),
deleted AS (
    DELETE FROM device_changes c
    USING cut
    WHERE c.changed_at < cut.cutoff
    RETURNING 1
)
INSERT INTO history_prunes (older_than, cutoff, rows_deleted)
SELECT make_interval(days => @days::int), cut.cutoff, (SELECT count(*) FROM deleted)
FROM cut
RETURNING rows_deleted, cutoff;
