-- +goose Up
-- The check of the listing (listing_agreement) looks a run's devices up in
-- its work list by device: index that, so that it never scans the list once
-- per device. UNLOGGED like the table: it costs no WAL.
CREATE INDEX run_queue_device_idx ON run_queue (run_id, device_id);

-- +goose Down
DROP INDEX run_queue_device_idx;
