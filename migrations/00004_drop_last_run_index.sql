-- +goose Up
-- Every run rewrites last_run_id on every device it stores, so its index
-- cost an index insertion per device per run, while its one reader (a
-- run's final recount) runs once per run and reads most of its scope
-- anyway. A sequential scan serves that reader; the writes get cheaper.
DROP INDEX devices_last_run_idx;

-- +goose Down
CREATE INDEX devices_last_run_idx ON devices (last_run_id);
