-- +goose Up
-- One index on device_key, not two (issue 18: a first sync moves every
-- devices row to a new page, and so adds an entry to each of its indexes).
-- The unique index compares in byte order (COLLATE "C"), which serves both
-- the look-up of a device by its key and the short ID, a range of keys in
-- byte order whatever the database's collation (migration 14). Uniqueness
-- is the same: under a deterministic collation two keys are equal exactly
-- when their bytes are. Statements that find a device by its key compare
-- device_key COLLATE "C" so that this index serves them.
DROP INDEX devices_device_key_idx;
DROP INDEX devices_device_key_bytes_idx;
CREATE UNIQUE INDEX devices_device_key_idx ON devices (device_key COLLATE "C");

-- +goose Down
DROP INDEX devices_device_key_idx;
CREATE UNIQUE INDEX devices_device_key_idx ON devices (device_key);
CREATE INDEX devices_device_key_bytes_idx ON devices (device_key COLLATE "C");
