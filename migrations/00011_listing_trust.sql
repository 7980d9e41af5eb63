-- +goose Up
-- The listing earns its trust. Nothing documents that GET /v1/devices and
-- Get Device Details agree (behind a NAT the listing may show the address
-- the cloud sees), so every run measures it: each device whose details the
-- run fetched and that the listing showed is a comparison, field by field;
-- and a random sample of the devices the listing vouched for is fetched all
-- the same, to catch a change the listing missed.

-- One row per run, org and field the listing is used for: ip, mac, and
-- activating (the listing's connection status 'activating' against the
-- details' activation state).
CREATE TABLE listing_agreement (
    run_id    bigint NOT NULL REFERENCES sync_runs (run_id),
    org_key   text NOT NULL,      -- the org's ID, '' for the devices without org_id
    field     text NOT NULL CHECK (field IN ('ip', 'mac', 'activating')),
    compared  integer NOT NULL,   -- devices fetched this run that the listing showed with this field
    disagreed integer NOT NULL,   -- of them, those whose details say otherwise
    sampled   integer NOT NULL,   -- devices of the org the listing vouched for, fetched as a check
    missed    integer NOT NULL,   -- of them, those whose details changed this field: a missed change
    PRIMARY KEY (run_id, org_key, field)
);

COMMENT ON TABLE listing_agreement IS 'Per run, org and field: how often the device listing agreed with the details, and the changes it missed (report listing_agreement).';

-- Whether the listing may excuse devices of an org, and why not. A field
-- that disagrees in more than 1% of its comparisons, or that missed a
-- change, makes the listing untrusted for its org: every device of the org
-- is then fetched, until the field has agreed for good_runs_needed runs in a
-- row.
CREATE TABLE listing_trust (
    org_key        text NOT NULL,
    field          text NOT NULL CHECK (field IN ('ip', 'mac', 'activating')),
    trusted        boolean NOT NULL DEFAULT true,
    since          timestamptz NOT NULL DEFAULT now(), -- when it became what it is
    since_run_id   bigint,
    good_runs      integer NOT NULL DEFAULT 0,         -- runs in a row that agreed, while untrusted
    evidence       text,                               -- why it was last distrusted
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_key, field)
);

COMMENT ON TABLE listing_trust IS 'Whether the device listing may excuse an org''s devices from a details request, per field, and the evidence when not.';

ALTER TABLE sync_runs
    ADD COLUMN listing_compared  integer NOT NULL DEFAULT 0,
    ADD COLUMN listing_disagreed integer NOT NULL DEFAULT 0,
    ADD COLUMN devices_sampled   integer NOT NULL DEFAULT 0,
    ADD COLUMN missed_changes    integer NOT NULL DEFAULT 0;

COMMENT ON COLUMN sync_runs.listing_compared IS 'Field comparisons between the listing and the details this run fetched (ip, mac, activating).';
COMMENT ON COLUMN sync_runs.listing_disagreed IS 'Of them, the ones where the two disagreed.';
COMMENT ON COLUMN sync_runs.devices_sampled IS 'Devices the listing vouched for, fetched all the same to check it.';
COMMENT ON COLUMN sync_runs.missed_changes IS 'Changes found in the sample that the listing did not show.';

-- +goose Down
ALTER TABLE sync_runs
    DROP COLUMN missed_changes, DROP COLUMN devices_sampled,
    DROP COLUMN listing_disagreed, DROP COLUMN listing_compared;
DROP TABLE listing_trust;
DROP TABLE listing_agreement;
