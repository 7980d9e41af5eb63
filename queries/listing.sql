-- The listing sweep of a list-guided run (internal/syncrun): what
-- GET /v1/devices says of the tracked devices, and what it says about
-- which of them need their details. sqlc turns these into internal/dbsqlc.

-- name: ListingOrgs :many
-- The orgs the scope's devices belong to, '' for the rows without an
-- org_id (the run's --org-id default, or the token's own org).
SELECT DISTINCT coalesce(org_id, '')::text AS org_key
FROM devices
WHERE @shard_count::int = 0
   OR mod(shard_hash::bigint + 2147483648, @shard_count::int) = @shard_index::int
ORDER BY 1;

-- name: ApplyListingPage :one
-- Takes one page of the listing for run @run_id: records, for every
-- tracked device of the scope it shows (matched by device_key, the UUID
-- inside the ID, whatever the spelling), whether the listing says its
-- details are needed and why; updates the listing's columns of the
-- inventory where they changed; and notes when the listing saw it. Arrays
-- are one element an item, '' for NULL.
--
-- The listing asks for the details when its IP or MAC differs from the
-- stored details (inet and macaddr compare normalised values; a value the
-- listing does not give is no evidence either way), when the device is
-- activating, or when its connection status changed since the last listing
-- that showed it (a device listed for the first time has its status
-- recorded, not counted as a change).
WITH input AS (
    SELECT unnest(@device_keys::text[])                            AS device_key,
           nullif(unnest(@ips::text[]), '')::inet                  AS ip,
           nullif(unnest(@macs::text[]), '')::macaddr              AS mac,
           nullif(unnest(@connection_statuses::text[]), '')        AS connection_status,
           nullif(unnest(@softwares::text[]), '')                  AS software,
           nullif(unnest(@serials::text[]), '')                    AS serial,
           nullif(unnest(@display_names::text[]), '')              AS display_name,
           nullif(unnest(@products::text[]), '')                   AS product,
           nullif(unnest(@person_ids::text[]), '')                 AS person_id,
           nullif(unnest(@workspace_ids::text[]), '')              AS workspace_id,
           nullif(unnest(@location_ids::text[]), '')               AS location_id,
           nullif(unnest(@last_seens::text[]), '')::timestamptz    AS last_seen
),
matched AS (
    -- One row a device, even if the page lists it twice.
    SELECT DISTINCT ON (d.device_id)
           d.device_id, i.ip, i.mac, i.connection_status, i.software, i.serial,
           i.display_name, i.product, i.person_id, i.workspace_id, i.location_id, i.last_seen,
           d.ip AS details_ip, d.mac AS details_mac,
           d.connection_status AS old_connection_status, s.listed_at AS old_listed_at,
           s.device_id IS NOT NULL AS has_state,
           (d.connection_status, d.software, d.serial, d.display_name, d.product,
            d.person_id, d.workspace_id, d.location_id, d.listed_ip, d.listed_mac)
           IS DISTINCT FROM
           (i.connection_status, i.software, i.serial, i.display_name, i.product,
            i.person_id, i.workspace_id, i.location_id, i.ip, i.mac) AS listing_changed
    FROM input i
    JOIN devices d ON d.device_key COLLATE "C" = i.device_key
    LEFT JOIN device_sync_state s ON s.device_id = d.device_id
    WHERE coalesce(d.org_id, '') = @org_key::text
      AND (@shard_count::int = 0
           OR mod(d.shard_hash::bigint + 2147483648, @shard_count::int) = @shard_index::int)
    ORDER BY d.device_id
),
recorded AS (
    INSERT INTO run_listing (run_id, device_id, org_key, ip, mac, connection_status, reason)
    SELECT @run_id::bigint, m.device_id, @org_key::text, m.ip, m.mac, m.connection_status,
           CASE WHEN m.ip IS NOT NULL AND m.ip IS DISTINCT FROM m.details_ip THEN 'listing_ip'
                WHEN m.mac IS NOT NULL AND m.mac IS DISTINCT FROM m.details_mac THEN 'listing_mac'
                WHEN m.connection_status = 'activating' THEN 'activating'
                WHEN m.old_listed_at IS NOT NULL
                     AND m.connection_status IS DISTINCT FROM m.old_connection_status THEN 'connection_status'
           END
    FROM matched m
    ON CONFLICT (run_id, device_id) DO NOTHING
    RETURNING reason
),
inventory AS (
    -- A device's first listing (no state row yet) always writes its row:
    -- the update's lock keeps the state row inserted below from outliving
    -- a devices row deleted meanwhile (migration 00020: no foreign key).
    UPDATE devices d
    SET connection_status = m.connection_status,
        software          = m.software,
        serial            = m.serial,
        display_name      = m.display_name,
        product           = m.product,
        person_id         = m.person_id,
        workspace_id      = m.workspace_id,
        location_id       = m.location_id,
        listed_ip         = m.ip,
        listed_mac        = m.mac
    FROM matched m
    WHERE d.device_id = m.device_id
      AND (m.listing_changed OR NOT m.has_state)
    RETURNING d.device_id, m.listing_changed, m.has_state, m.last_seen, m.ip, m.mac,
              m.details_ip, m.details_mac
),
trust AS (
    -- A field the listing is not trusted for in this org confirms nothing.
    SELECT NOT EXISTS (SELECT 1 FROM listing_trust t
                       WHERE t.org_key = @org_key::text AND t.field IN ('ip', 'mac') AND NOT t.trusted) AS trusted
),
-- When the listing shows the IP and the MAC the details hold, it confirms
-- them: the window of a later change of either opens here, with no history
-- row. Same row, same HOT update as listed_at; a confirmation at listed_at
-- is stored as NULL (no bytes), and only a pass that does not confirm keeps
-- the earlier one (-infinity: none).
--
-- A state row that exists is updated in place; not one INSERT ... ON
-- CONFLICT DO UPDATE for all, which locks every existing row before
-- updating it (a WAL record a device on every pass). A new one is inserted
-- only for a device whose devices row inventory updated (and so holds
-- locked): a device deleted since the statement began gets none. The
-- insert keeps ON CONFLICT for a row written since by another statement.
seen AS (
    UPDATE device_sync_state s
    SET listed_at                 = now(),
        last_seen                 = m.last_seen,
        listing_confirmed_earlier = CASE WHEN t.trusted AND m.ip = m.details_ip AND m.mac = m.details_mac THEN NULL
                                         ELSE coalesce(s.listing_confirmed_earlier, s.listed_at, '-infinity') END
    FROM matched m, trust t
    WHERE s.device_id = m.device_id
      AND m.has_state
),
seen_new AS (
    INSERT INTO device_sync_state AS s (device_id, listed_at, last_seen, listing_confirmed_earlier)
    SELECT v.device_id, now(), v.last_seen,
           CASE WHEN t.trusted AND v.ip = v.details_ip AND v.mac = v.details_mac THEN NULL
                ELSE '-infinity'::timestamptz END
    FROM inventory v, trust t
    WHERE NOT v.has_state
    ORDER BY v.device_id
    ON CONFLICT (device_id) DO UPDATE
    SET listed_at                 = EXCLUDED.listed_at,
        last_seen                 = EXCLUDED.last_seen,
        listing_confirmed_earlier = CASE WHEN EXCLUDED.listing_confirmed_earlier IS NULL THEN NULL
                                         ELSE coalesce(s.listing_confirmed_earlier, s.listed_at, '-infinity') END
)
SELECT (SELECT count(*) FROM recorded)::int                          AS matched,
       (SELECT count(*) FROM recorded WHERE reason IS NOT NULL)::int AS flagged,
       (SELECT count(*) FROM inventory WHERE listing_changed)::int   AS inventory_changed;

-- name: RecordListingAgreement :many
-- Measures, once the run has stored its details and before its listing is
-- dropped, how often the listing agreed with the details: every device the
-- run fetched (and stored ok) that the listing showed is a comparison for
-- each field the listing gave (ip, mac; activating: the listing's
-- connection status 'activating' against the details' activation state).
-- A device of the audit sample ('sample': the listing vouched for it) whose
-- details changed a field this run is a change the listing missed. Writes
-- one listing_agreement row per org and field, and the run's totals.
WITH fetched AS (
    -- Driven by the work list (a few percent of the fleet), each device
    -- looked up in the listing by its key.
    SELECT l.device_id, l.org_key, l.ip AS listed_ip, l.mac AS listed_mac,
           l.connection_status AS listed_status, q.reason AS queue_reason,
           d.ip, d.mac, coalesce(d.activation_state, '') AS activation_state
    FROM run_queue q
    JOIN run_listing l ON l.run_id = q.run_id AND l.device_id = q.device_id
    JOIN device_sync_state s ON s.device_id = q.device_id AND s.last_run_id = q.run_id
    JOIN devices d ON d.device_id = q.device_id
    WHERE q.run_id = @run_id::bigint
      AND d.sync_status = 'ok'
),
changed AS (
    -- Only the sample's changes can be missed ones.
    SELECT DISTINCT c.device_id, c.field
    FROM run_queue q
    JOIN device_changes c ON c.run_id = q.run_id AND c.device_id = q.device_id
    WHERE q.run_id = @run_id::bigint
      AND q.reason = 'sample'
),
compared AS (
    SELECT f.org_key, x.field, x.compared, x.disagrees,
           f.queue_reason = 'sample' AS sampled,
           c.device_id IS NOT NULL AS changed
    FROM fetched f
    CROSS JOIN LATERAL (
        SELECT 'ip'::text AS field, f.listed_ip IS NOT NULL AS compared,
               f.listed_ip IS DISTINCT FROM f.ip AS disagrees, 'ip'::text AS history_field
        UNION ALL
        SELECT 'mac', f.listed_mac IS NOT NULL, f.listed_mac IS DISTINCT FROM f.mac, 'mac'
        UNION ALL
        SELECT 'activating', f.listed_status IS NOT NULL,
               (f.listed_status = 'activating') <> (f.activation_state = 'activating'), 'activation_state'
    ) AS x
    LEFT JOIN changed c ON c.device_id = f.device_id AND c.field = x.history_field
),
per_field AS (
    SELECT org_key, field,
           count(*) FILTER (WHERE compared)::int               AS compared,
           count(*) FILTER (WHERE compared AND disagrees)::int AS disagreed,
           count(*) FILTER (WHERE sampled)::int                AS sampled,
           count(*) FILTER (WHERE sampled AND changed)::int    AS missed
    FROM compared
    GROUP BY org_key, field
),
recorded AS (
    INSERT INTO listing_agreement (run_id, org_key, field, compared, disagreed, sampled, missed)
    SELECT @run_id::bigint, org_key, field, compared, disagreed, sampled, missed
    FROM per_field
    ON CONFLICT (run_id, org_key, field) DO NOTHING
),
totals AS (
    UPDATE sync_runs r
    SET listing_compared  = (SELECT coalesce(sum(compared), 0) FROM per_field),
        listing_disagreed = (SELECT coalesce(sum(disagreed), 0) FROM per_field),
        devices_sampled   = (SELECT count(*) FROM run_queue WHERE run_id = @run_id::bigint AND reason = 'sample'),
        missed_changes    = (SELECT coalesce(sum(missed), 0) FROM per_field),
        updated_at        = now()
    WHERE r.run_id = @run_id::bigint
)
SELECT org_key, field, compared, disagreed, sampled, missed
FROM per_field
ORDER BY org_key, field;

-- name: ListMissedChanges :many
-- The changes the run found in its audit sample: devices the listing
-- vouched for whose details changed.
SELECT c.device_id, l.org_key, c.field, c.old_value, c.new_value
FROM run_queue q
JOIN device_changes c ON c.run_id = q.run_id AND c.device_id = q.device_id
JOIN run_listing l ON l.run_id = q.run_id AND l.device_id = q.device_id
WHERE q.run_id = @run_id::bigint
  AND q.reason = 'sample'
ORDER BY c.device_id, c.field;

-- name: ListingTrust :many
-- Whether the listing may excuse each org's devices, field by field.
SELECT org_key, field, trusted, since, since_run_id, good_runs, coalesce(evidence, '')::text AS evidence
FROM listing_trust
ORDER BY org_key, field;

-- name: SetListingTrust :exec
INSERT INTO listing_trust (org_key, field, trusted, since, since_run_id, good_runs, evidence, updated_at)
VALUES (@org_key::text, @field::text, @trusted::boolean, @since::timestamptz, sqlc.narg(since_run_id)::bigint,
        @good_runs::int, sqlc.narg(evidence)::text, now())
ON CONFLICT (org_key, field) DO UPDATE
SET trusted      = EXCLUDED.trusted,
    since        = EXCLUDED.since,
    since_run_id = EXCLUDED.since_run_id,
    good_runs    = EXCLUDED.good_runs,
    evidence     = EXCLUDED.evidence,
    updated_at   = now();
