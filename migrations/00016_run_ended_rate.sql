-- +goose Up
-- The rate a run ended with, for the next run of its scope to start from
-- (issue 17): an hourly job need not learn Webex's limit anew every hour.
ALTER TABLE sync_runs ADD COLUMN ended_rate double precision
    CHECK (ended_rate > 0 AND ended_rate <> 'Infinity'::double precision);

COMMENT ON COLUMN sync_runs.ended_rate IS 'Requests per second the client was sending at when the run ended, when Webex''s 429s had moved it under the configured rate (or it started from an earlier run''s): the next run of the scope starts there and probes upwards. NULL: the run paced at the configured rate.';

-- +goose Down
ALTER TABLE sync_runs DROP COLUMN ended_rate;
