-- Statements of the sync run. Parameters are pgx named arguments (@name).

-- name: AbandonRuns
-- Runs left 'running' in a scope whose lock this run now holds belong to
-- processes that died: a live one would still hold the lock. A whole-fleet
-- run holds every scope; a shard run holds its own and excludes
-- whole-fleet runs.
UPDATE sync_runs
SET status = 'abandoned',
    finished_at = now(),
    updated_at = now(),
    error = 'the process running it stopped without finishing (killed or crashed); found by run ' || @found_by::text
WHERE status = 'running'
  AND run_id <> @found_by
  AND (@scope::text = 'all' OR scope IN (@scope::text, 'all'))
RETURNING run_id;

-- name: StartRun
-- A run counts its devices when it starts: every tracked device of its
-- scope is due.
INSERT INTO sync_runs (scope, devices_total)
SELECT @scope::text, count(*)
FROM devices
WHERE @shard_count::int = 0 OR mod(shard_hash::bigint + 2147483648, @shard_count::int) = @shard_index::int
RETURNING run_id, started_at, devices_total;

-- name: DueDevices
-- One page of the devices a run still has to fetch, stalest first. The run
-- pages by key (the last row of the previous page), not by OFFSET, and a
-- device it has already written has last_attempt_at after the run started,
-- so it never comes back in the same run.
SELECT device_id,
       coalesce(org_id, '') AS org_id,
       coalesce(last_attempt_at, '-infinity'::timestamptz) AS due_key
FROM devices
WHERE coalesce(last_attempt_at, '-infinity'::timestamptz) < @run_started
  AND (@shard_count::int = 0 OR mod(shard_hash::bigint + 2147483648, @shard_count::int) = @shard_index::int)
  AND (coalesce(last_attempt_at, '-infinity'::timestamptz), device_id) > (@after_key::timestamptz, @after_id::text)
ORDER BY coalesce(last_attempt_at, '-infinity'::timestamptz), device_id
LIMIT @page_size;

-- name: ApplyResults
-- Stores one batch of fetch results and its history in one statement, so
-- they commit together. A device whose details did not change keeps its
-- detail columns and last_changed_at; only its sync timestamps move. The
-- run's counters move in the same statement, so sync_runs always equals
-- what the tables hold.
WITH input AS (
    -- Values arrive as text arrays and are cast here, once, in SQL.
    SELECT t.device_id, t.outcome, t.manufacturer, t.managed_by, t.model,
           t.ip::inet AS ip, t.mac::macaddr AS mac, t.activation_state,
           t.tags::jsonb AS tags, t.upgrade_channel_enabled, t.owner_sip_user_name,
           t.owner_line_port, t.outbound_proxy, t.details::jsonb AS details, t.last_error
    FROM unnest(
        @device_ids::text[], @outcomes::text[], @manufacturers::text[], @managed_bys::text[],
        @models::text[], @ips::text[], @macs::text[], @activation_states::text[],
        @tags::text[], @upgrade_channel_enableds::boolean[], @owner_sip_user_names::text[],
        @owner_line_ports::text[], @outbound_proxies::text[], @details::text[], @errors::text[]
    ) AS t (device_id, outcome, manufacturer, managed_by,
            model, ip, mac, activation_state,
            tags, upgrade_channel_enabled, owner_sip_user_name,
            owner_line_port, outbound_proxy, details, last_error)
),
-- Lock the rows and keep their state before the update (UPDATE ...
-- RETURNING only sees the new values), carrying the input along: the
-- updates below then join this one CTE to devices by primary key. (unnest
-- is estimated at a handful of rows, so joining input and prev again made
-- the planner rescan prev once per input row: O(batch²).)
prev AS (
    SELECT i.*, d.ip AS old_ip, d.mac AS old_mac, d.activation_state AS old_activation_state
    FROM devices d
    JOIN input i USING (device_id)
    ORDER BY d.device_id
    FOR UPDATE OF d
),
synced AS (
    UPDATE devices d
    SET manufacturer            = p.manufacturer,
        managed_by              = p.managed_by,
        model                   = p.model,
        ip                      = p.ip,
        mac                     = p.mac,
        activation_state        = p.activation_state,
        tags                    = CASE WHEN p.tags IS NULL THEN NULL
                                       ELSE ARRAY(SELECT jsonb_array_elements_text(p.tags)) END,
        upgrade_channel_enabled = p.upgrade_channel_enabled,
        owner_sip_user_name     = p.owner_sip_user_name,
        owner_line_port         = p.owner_line_port,
        outbound_proxy          = p.outbound_proxy,
        details                 = p.details,
        sync_status             = 'ok',
        last_run_id             = @run_id,
        last_error              = NULL,
        consecutive_failures    = 0,
        first_synced_at         = coalesce(d.first_synced_at, now()),
        last_synced_at          = now(),
        last_attempt_at         = now(),
        last_changed_at         = CASE WHEN d.details IS DISTINCT FROM p.details THEN now()
                                       ELSE d.last_changed_at END
    FROM prev p
    WHERE d.device_id = p.device_id
      AND p.outcome = 'ok'
    RETURNING d.device_id,
              p.old_activation_state, d.activation_state AS new_activation_state,
              p.old_ip, d.ip AS new_ip,
              p.old_mac, d.mac AS new_mac
),
failed AS (
    UPDATE devices d
    SET sync_status          = p.outcome,
        last_run_id          = @run_id,
        last_error           = p.last_error,
        last_attempt_at      = now(),
        consecutive_failures = CASE WHEN p.outcome = 'not_found' THEN 0
                                    ELSE d.consecutive_failures + 1 END
    FROM prev p
    WHERE d.device_id = p.device_id
      AND p.outcome <> 'ok'
    RETURNING d.device_id, d.sync_status
),
changes AS (
    INSERT INTO device_changes (device_id, run_id, field, old_value, new_value, changed_at)
    SELECT s.device_id, @run_id, v.field, v.old_value, v.new_value, now()
    FROM synced s
    CROSS JOIN LATERAL (VALUES
        ('activation_state', s.old_activation_state, s.new_activation_state),
        ('ip', host(s.old_ip), host(s.new_ip)),
        ('mac', s.old_mac::text, s.new_mac::text)
    ) AS v (field, old_value, new_value)
    WHERE v.old_value IS DISTINCT FROM v.new_value
    ORDER BY s.device_id, v.field
    RETURNING device_id
),
counts AS (
    SELECT (SELECT count(*) FROM synced)::int AS ok,
           (SELECT count(*) FROM failed WHERE sync_status = 'not_found')::int AS not_found,
           (SELECT count(*) FROM failed WHERE sync_status <> 'not_found')::int AS failed,
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
WHERE r.run_id = @run_id
RETURNING c.ok, c.not_found, c.failed, c.changed, c.changes;

-- name: FinishRun
-- The final accounting is recounted from the rows the run wrote, so it
-- holds even if a batch was sent twice after a lost connection.
WITH stored AS (
    SELECT count(*) FILTER (WHERE sync_status = 'ok')::int AS ok,
           count(*) FILTER (WHERE sync_status = 'not_found')::int AS not_found,
           count(*) FILTER (WHERE sync_status IN ('forbidden', 'error'))::int AS failed
    FROM devices
    WHERE last_run_id = @run_id
),
history AS (
    SELECT count(DISTINCT device_id)::int AS changed, count(*)::int AS changes
    FROM device_changes
    WHERE run_id = @run_id
)
UPDATE sync_runs r
SET status            = @status,
    finished_at       = now(),
    updated_at        = now(),
    error             = @error,
    throttled         = @throttled,
    devices_ok        = s.ok,
    devices_not_found = s.not_found,
    devices_failed    = s.failed,
    devices_changed   = h.changed,
    changes_recorded  = h.changes,
    devices_skipped   = greatest(r.devices_total - s.ok - s.not_found - s.failed, 0)
FROM stored s, history h
WHERE r.run_id = @run_id
RETURNING r.devices_ok, r.devices_not_found, r.devices_failed, r.devices_changed, r.changes_recorded, r.devices_skipped;
