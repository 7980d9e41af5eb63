-- Statements that manage which devices are tracked: devices add, import,
-- remove and list, discovery, and the retention prune of history. sqlc
-- turns them into internal/dbsqlc.

-- name: TrackDevices :many
-- Adds the devices not tracked yet and sets org_id where one is given and
-- differs. A device is matched by its identity (device_key, the UUID inside
-- the ID) as well as by its ID, so another spelling of a tracked device is
-- not a second row: it is reported with the ID it is tracked as
-- (tracked_as), and its org_id is set on that row. A device already tracked
-- as given, org_id and all, is not rewritten and not returned, so that
-- importing the same file twice changes nothing.
WITH input AS (
    -- '' is NULL: no org_id given.
    SELECT unnest(@device_ids::text[])             AS device_id,
           nullif(unnest(@org_ids::text[]), '')    AS org_id
),
prev AS (
    SELECT i.device_id AS given_id, i.org_id AS given_org_id, d.device_id, d.org_id
    FROM input i
    JOIN devices d ON d.device_id = i.device_id
                   OR d.device_key COLLATE "C" = wxc_device_key(i.device_id)
),
added AS (
    INSERT INTO devices (device_id, org_id)
    SELECT i.device_id, i.org_id
    FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM prev p WHERE p.given_id = i.device_id)
    ORDER BY i.device_id
    RETURNING device_id, org_id
),
reorged AS (
    UPDATE devices d
    SET org_id = p.given_org_id
    FROM prev p
    WHERE d.device_id = p.device_id
      AND p.given_org_id IS NOT NULL
      AND d.org_id IS DISTINCT FROM p.given_org_id
    RETURNING d.device_id
)
SELECT a.device_id, true AS added, ''::text AS tracked_as,
       NULL::text AS old_org_id, a.org_id AS new_org_id
FROM added a
UNION ALL
SELECT p.given_id, false,
       CASE WHEN p.device_id <> p.given_id THEN p.device_id ELSE '' END,
       p.org_id,
       CASE WHEN p.device_id IN (SELECT device_id FROM reorged) THEN p.given_org_id ELSE p.org_id END
FROM prev p
WHERE p.device_id <> p.given_id OR p.device_id IN (SELECT device_id FROM reorged)
ORDER BY 1;

-- name: UntrackDevices :many
-- Stops tracking devices. Their history in device_changes stays: it has no
-- foreign key to devices on purpose.
DELETE FROM devices
WHERE device_id = ANY (@device_ids::text[])
RETURNING device_id;

-- name: ListDevices :many
-- The tracked devices with one of statuses (any, when empty) and, when mac
-- is not NULL, that MAC in their details or in the listing.
SELECT d.device_id,
       d.org_id,
       d.sync_status,
       d.model,
       d.ip,
       d.mac,
       s.last_synced_at,
       d.last_error
FROM devices d
LEFT JOIN device_sync_state s USING (device_id)
WHERE (cardinality(@statuses::text[]) = 0 OR d.sync_status = ANY (@statuses::text[]))
  AND (sqlc.narg(mac)::macaddr IS NULL OR d.mac = sqlc.narg(mac)::macaddr OR d.listed_mac = sqlc.narg(mac)::macaddr)
ORDER BY d.device_id;

-- name: FindDevices :many
-- The devices an identifier names, each once, with every way it matched:
-- 'id' (the ID as stored), 'merged id' (an ID merged into the device, see
-- device_id_merges), 'uuid' (the identity inside any spelling of the ID),
-- 'mac' and 'listed mac' (the details' and the listing's MAC), 'short id'
-- (a UUID starting with the prefix a table prints; at most max_prefix of
-- them, so that a short prefix cannot list the fleet). A merged ID whose
-- device was removed since comes back with tracked false. NULL arguments
-- match nothing. Each branch is an index scan, but the MAC branches.
WITH hits AS (
    SELECT d.device_id, 'id' AS matched_by
    FROM devices d
    WHERE d.device_id = @raw::text
    UNION ALL
    SELECT m.kept_id, 'merged id'
    FROM device_id_merges m
    WHERE m.merged_id = @raw::text
    UNION ALL
    SELECT d.device_id, 'uuid'
    FROM devices d
    WHERE d.device_key COLLATE "C" = sqlc.narg(device_key)::text
    UNION ALL
    SELECT d.device_id, 'mac'
    FROM devices d
    WHERE d.mac = sqlc.narg(mac)::macaddr
    UNION ALL
    SELECT d.device_id, 'listed mac'
    FROM devices d
    WHERE d.listed_mac = sqlc.narg(mac)::macaddr
    UNION ALL
    (SELECT d.device_id, 'short id'
     FROM devices d
     WHERE d.device_key COLLATE "C" >= sqlc.narg(key_from)::text
       AND d.device_key COLLATE "C" < sqlc.narg(key_to)::text
     ORDER BY d.device_key COLLATE "C"
     LIMIT @max_prefix::int)
)
SELECT h.device_id,
       (d.device_id IS NOT NULL)::boolean                            AS tracked,
       array_agg(DISTINCT h.matched_by ORDER BY h.matched_by)::text[] AS matched_by,
       d.sync_status,
       d.display_name,
       d.model,
       d.mac,
       d.listed_mac
FROM hits h
LEFT JOIN devices d USING (device_id)
GROUP BY h.device_id, d.device_id
ORDER BY h.device_id COLLATE "C";

-- name: FindHistoryDevices :many
-- The IDs among device_ids that history was recorded under: a device no
-- longer tracked is still found by its ID, in any of its spellings. The
-- first recorded change says which spelling is the device's oldest.
SELECT c.device_id, min(c.changed_at)::timestamptz AS first_changed_at
FROM device_changes c
WHERE c.device_id = ANY (@device_ids::text[])
GROUP BY c.device_id
ORDER BY first_changed_at, c.device_id;

-- name: StartDiscovery :one
INSERT INTO discovery_runs (org_id, dry_run, prune)
VALUES (sqlc.narg(org_id)::text, @dry_run::boolean, @prune::boolean)
RETURNING discovery_id;

-- name: DiscoveryAdd :many
-- The listed devices not tracked yet. A device tracked under another org_id
-- counts as tracked.
INSERT INTO devices (device_id, org_id)
SELECT unnest(@device_ids::text[]), sqlc.narg(org_id)::text
ON CONFLICT (device_id) DO NOTHING
RETURNING device_id;

-- name: DiscoveryUnlisted :many
-- Tracked devices of the discovered org (org_id equal, or both absent) that
-- the listing did not return.
SELECT device_id
FROM devices
WHERE org_id IS NOT DISTINCT FROM sqlc.narg(org_id)::text
  AND NOT (device_id = ANY (@device_ids::text[]))
ORDER BY device_id;

-- name: FinishDiscovery :exec
UPDATE discovery_runs
SET status         = @status::text,
    finished_at    = now(),
    pages          = @pages::int,
    devices_listed = @devices_listed::int,
    calling_listed = @calling_listed::int,
    rejected       = @rejected::int,
    added          = @added::int,
    unlisted       = @unlisted::int,
    removed        = @removed::int,
    error          = sqlc.narg(error)::text
WHERE discovery_id = @discovery_id::bigint;

-- name: CountHistoryBefore :one
SELECT count(*) AS rows, (now() - make_interval(days => @days::int))::timestamptz AS cutoff
FROM device_changes
WHERE changed_at < now() - make_interval(days => @days::int);

-- name: AllowHistoryPrune :exec
-- Lets this transaction, and it alone, delete from device_changes (the
-- append-only trigger checks the setting).
SELECT set_config('wxc_sync.allow_history_prune', 'on', true);

-- name: PruneHistory :one
-- The one way rows leave device_changes. The caller has run
-- AllowHistoryPrune in the same transaction; the prune itself is recorded
-- in history_prunes in the same statement.
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
