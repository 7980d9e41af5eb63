-- +goose Up
-- The inventory: one row per tracked device. Inserting a device_id is all it
-- takes to track a device; every other column has a default or is nullable.
CREATE TABLE devices (
    device_id               text PRIMARY KEY CHECK (device_id <> '' AND length(device_id) <= 1024),
    org_id                  text,
    manufacturer            text,
    managed_by              text,
    model                   text,
    ip                      inet,
    mac                     macaddr,
    activation_state        text,
    tags                    text[],
    upgrade_channel_enabled boolean,
    owner_sip_user_name     text,
    owner_line_port         text,
    outbound_proxy          text,
    details                 jsonb,
    sync_status             text NOT NULL DEFAULT 'pending'
        CHECK (sync_status IN ('pending', 'ok', 'not_found', 'forbidden', 'error')),
    last_error              text,
    consecutive_failures    integer NOT NULL DEFAULT 0,
    first_synced_at         timestamptz,
    last_synced_at          timestamptz,
    last_attempt_at         timestamptz,
    last_changed_at         timestamptz,
    added_at                timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE devices IS 'Webex Calling devices tracked by the sync job, with their last fetched details.';
COMMENT ON COLUMN devices.details IS 'The last Get Device Details payload, as received.';
COMMENT ON COLUMN devices.last_synced_at IS 'Last successful fetch (sync_status ok).';
COMMENT ON COLUMN devices.last_attempt_at IS 'Last fetch attempt, whatever its outcome; runs take the stalest first.';
COMMENT ON COLUMN devices.last_changed_at IS 'Last time any detail of the device changed.';

-- Runs read the stalest devices first (never attempted, then oldest attempt)
-- and page through them by key, so the sort key is indexed as one expression.
CREATE INDEX devices_due_idx ON devices ((coalesce(last_attempt_at, '-infinity'::timestamptz)), device_id);
CREATE INDEX devices_sync_status_idx ON devices (sync_status) WHERE sync_status <> 'ok';

-- One row per job run: the accounting an operator and a monitor read.
CREATE TABLE sync_runs (
    run_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    status            text NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted', 'abandoned')),
    devices_total     integer NOT NULL DEFAULT 0,
    devices_ok        integer NOT NULL DEFAULT 0,
    devices_changed   integer NOT NULL DEFAULT 0,
    devices_not_found integer NOT NULL DEFAULT 0,
    devices_failed    integer NOT NULL DEFAULT 0,
    changes_recorded  integer NOT NULL DEFAULT 0,
    error             text
);

CREATE INDEX sync_runs_started_at_idx ON sync_runs (started_at);

-- The audit trail. No foreign key to devices on purpose: history survives the
-- deletion of its device.
CREATE TABLE device_changes (
    change_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id  text NOT NULL,
    run_id     bigint REFERENCES sync_runs (run_id),
    field      text NOT NULL CHECK (field IN ('activation_state', 'ip', 'mac')),
    old_value  text,
    new_value  text,
    changed_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE device_changes IS 'Append-only history of activation state, IP and MAC changes observed by the sync job.';

CREATE INDEX device_changes_device_idx ON device_changes (device_id, changed_at);
CREATE INDEX device_changes_changed_at_idx ON device_changes (changed_at);
CREATE INDEX device_changes_run_idx ON device_changes (run_id);

-- +goose Down
DROP TABLE device_changes;
DROP TABLE sync_runs;
DROP TABLE devices;
