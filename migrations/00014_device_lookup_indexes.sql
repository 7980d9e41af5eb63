-- +goose Up
-- Finding one device by what a person holds (devices show, devices list
-- --mac, report device_timeline --param device_id=): by its MAC, the
-- details' or the listing's, and by the short ID a table prints, the start
-- of the UUID in device_key. Without these a look-up reads the whole table:
-- 0.5 to 1.6 s at 1,000,000 devices, against about a millisecond with them.
-- A run leaves them alone unless a MAC changes: an update that does not
-- touch an indexed column stays a HOT update, and an unchanged row is not
-- rewritten at all.
CREATE INDEX devices_mac_idx ON devices (mac) WHERE mac IS NOT NULL;
CREATE INDEX devices_listed_mac_idx ON devices (listed_mac) WHERE listed_mac IS NOT NULL;
-- A short ID is a range of device_key in byte order, whatever the
-- database's collation: devices_device_key_idx (the default collation)
-- cannot serve it.
CREATE INDEX devices_device_key_bytes_idx ON devices (device_key COLLATE "C");

-- +goose Down
DROP INDEX devices_device_key_bytes_idx;
DROP INDEX devices_listed_mac_idx;
DROP INDEX devices_mac_idx;
