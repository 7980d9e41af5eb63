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
           d.connection_status AS old_connection_status, s.listed_at AS old_listed_at
    FROM input i
    JOIN devices d ON d.device_key = i.device_key
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
      AND (d.connection_status, d.software, d.serial, d.display_name, d.product,
           d.person_id, d.workspace_id, d.location_id, d.listed_ip, d.listed_mac)
          IS DISTINCT FROM
          (m.connection_status, m.software, m.serial, m.display_name, m.product,
           m.person_id, m.workspace_id, m.location_id, m.ip, m.mac)
    RETURNING d.device_id
),
seen AS (
    INSERT INTO device_sync_state AS s (device_id, listed_at, last_seen)
    SELECT m.device_id, now(), m.last_seen
    FROM matched m
    ORDER BY m.device_id
    ON CONFLICT (device_id) DO UPDATE
    SET listed_at = EXCLUDED.listed_at,
        last_seen = EXCLUDED.last_seen
)
SELECT (SELECT count(*) FROM recorded)::int                          AS matched,
       (SELECT count(*) FROM recorded WHERE reason IS NOT NULL)::int AS flagged,
       (SELECT count(*) FROM inventory)::int                         AS inventory_changed;
