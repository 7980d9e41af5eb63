-- +goose Up
-- One device, one row, whatever the spelling of its ID. A Webex device ID
-- is base64 (standard or URL alphabet, padded or not) of
-- ciscospark://<region>/<DEVICE|CALLING_DEVICE>/<uuid>, and every spelling
-- of it, either TYPE included, names the same device. device_key is that
-- identity: the lower-case UUID (or the local part when it is not a UUID),
-- the rule internal/deviceid's Key follows. NULL for a device_id that is
-- not a device ID (a hand-made INSERT): such rows keep their own identity.
-- +goose StatementBegin
CREATE FUNCTION wxc_device_key(id text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    b64   text := translate(rtrim(id, '='), '-_', '+/');
    parts text[];
BEGIN
    IF length(id) - length(rtrim(id, '=')) > 2 THEN
        RETURN NULL;
    END IF;
    b64 := b64 || repeat('=', (4 - length(b64) % 4) % 4);
    parts := regexp_match(convert_from(decode(b64, 'base64'), 'UTF8'),
                          '^ciscospark://[A-Za-z0-9:_.\-]+/(DEVICE|CALLING_DEVICE)/([^/[:space:]]+)$');
    IF parts IS NULL THEN
        RETURN NULL;
    END IF;
    IF parts[2] ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RETURN lower(parts[2]);
    END IF;
    RETURN parts[2];
EXCEPTION WHEN OTHERS THEN
    -- Not base64, not UTF-8: not a device ID.
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION wxc_device_key(text) IS 'The identity of a Webex device ID whatever its spelling: the UUID inside it, lower case; NULL when the text is not a device ID.';

ALTER TABLE devices ADD COLUMN device_key text GENERATED ALWAYS AS (wxc_device_key(device_id)) STORED;
COMMENT ON COLUMN devices.device_key IS 'The device''s identity (the UUID inside device_id): unique, so that one device is one row whatever the spelling of its ID.';

-- Rows that name the same device under different spellings are merged
-- into one: the row synced first (it holds the start of the device's
-- history), else the one tracked first. The history of the others stays in
-- device_changes under the ID it was recorded with; device_id_merges says
-- which IDs were merged into which, and the timeline report follows it.
CREATE TABLE device_id_merges (
    merged_id text PRIMARY KEY,
    kept_id   text NOT NULL,
    merged_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE device_id_merges IS 'Device IDs that named an already tracked device in another spelling, and the ID kept for it.';

WITH ranked AS (
    SELECT device_id, device_key,
           first_value(device_id) OVER w AS kept_id,
           row_number() OVER w AS rank
    FROM devices
    WHERE device_key IS NOT NULL
    WINDOW w AS (PARTITION BY device_key ORDER BY first_synced_at NULLS LAST, added_at, device_id)
),
merged AS (
    INSERT INTO device_id_merges (merged_id, kept_id)
    SELECT device_id, kept_id FROM ranked WHERE rank > 1
    RETURNING merged_id
)
DELETE FROM devices d
USING merged m
WHERE d.device_id = m.merged_id;

CREATE UNIQUE INDEX devices_device_key_idx ON devices (device_key);

-- +goose Down
DROP INDEX devices_device_key_idx;
ALTER TABLE devices DROP COLUMN device_key;
DROP TABLE device_id_merges;
DROP FUNCTION wxc_device_key(text);
