-- +goose Up
-- The work list keeps one index, its primary key (run_id, pos) (issue 18:
-- a run starts by writing every due device into run_queue, and on a pass
-- over the whole fleet that insert was most of the run's start). The
-- index by device (migration 12) served a check of the listing that looked
-- each listed device up in the work list; that check (RecordListingAgreement)
-- and everything else now read a run's list by its run_id and join from it,
-- so nothing looks a device up in it. Its entries were the costly part of
-- the insert: random text keys, against the primary key's ascending ones
-- (100,000 devices: 0.50 s with it, 0.31 s without, on the machine of
-- docs/BENCHMARKS.md).
DROP INDEX run_queue_device_idx;

-- +goose Down
CREATE INDEX run_queue_device_idx ON run_queue (run_id, device_id);
