-- +goose Up
-- device_sync_state follows its devices row by triggers, not by a foreign
-- key (issue 18: the first sync, bound by its writes). The foreign key
-- checked every new state row with a look-up of its devices row and a
-- FOR KEY SHARE lock on it: a trigger event, a query and a lock record in
-- the WAL for each device of a first sync, and of a device's first
-- listing. What it guaranteed stays, kept by these instead:
--
-- * A deleted or truncated devices row takes its state row with it: the
--   triggers below, in the deleting transaction (as ON DELETE CASCADE did).
-- * No state row is written for a device deleted meanwhile: the statements
--   that insert state rows (ApplyResults, ApplyListingPage) insert them only
--   for devices whose devices row they updated in the same statement. The
--   update takes the row's lock and sees its latest version, so a device
--   deleted since the statement began is skipped, and a delete that comes
--   later waits for the statement's commit, then its trigger removes the
--   state row. A device's first result and first listing always update its
--   devices row for that reason.
ALTER TABLE device_sync_state DROP CONSTRAINT device_sync_state_device_id_fkey;

-- +goose StatementBegin
CREATE FUNCTION device_sync_state_drop_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM device_sync_state s
    USING deleted_devices d
    WHERE s.device_id = d.device_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION device_sync_state_drop_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE device_sync_state;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- One statement-level trigger: a removal of many devices (devices remove,
-- discover --prune) deletes their state rows in one join, not one statement
-- a row.
CREATE TRIGGER devices_drop_sync_state
AFTER DELETE ON devices
REFERENCING OLD TABLE AS deleted_devices
FOR EACH STATEMENT EXECUTE FUNCTION device_sync_state_drop_deleted();

CREATE TRIGGER devices_truncate_sync_state
AFTER TRUNCATE ON devices
FOR EACH STATEMENT EXECUTE FUNCTION device_sync_state_drop_all();

COMMENT ON TABLE device_sync_state IS 'Per-device sync bookkeeping that every run moves; one row per device attempted or listed at least once. Deleted with its devices row (trigger devices_drop_sync_state), not by a foreign key: see migration 00020.';

-- +goose Down
DROP TRIGGER devices_truncate_sync_state ON devices;
DROP TRIGGER devices_drop_sync_state ON devices;
DROP FUNCTION device_sync_state_drop_all();
DROP FUNCTION device_sync_state_drop_deleted();
DELETE FROM device_sync_state s
WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.device_id = s.device_id);
ALTER TABLE device_sync_state
    ADD CONSTRAINT device_sync_state_device_id_fkey
    FOREIGN KEY (device_id) REFERENCES devices (device_id) ON DELETE CASCADE;
COMMENT ON TABLE device_sync_state IS 'Per-device sync bookkeeping that every run moves; one row per device attempted at least once.';
