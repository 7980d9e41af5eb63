-- Least-privilege grants for the role that runs "wxc-sync run --no-migrate":
-- it reads and updates the inventory and appends history, but cannot UPDATE,
-- DELETE or TRUNCATE device_changes, so it cannot rewrite the audit trail.
-- (Managing the device list needs more: docs/CONFIGURATION.md, "Database privileges".) Run it as the role
-- that owns the schema (the one that ran "wxc-sync migrate"), after each
-- migration that adds a table:
--
--   psql "$OWNER_DATABASE_URL" -v role=wxc_sync_runner -f scripts/least-privilege.sql
--
-- Create the role first if need be: CREATE ROLE wxc_sync_runner LOGIN; then
-- \password wxc_sync_runner in psql (it asks, and sends only the hash).
-- internal/cli/least_privilege_test.go runs this file and proves the claims.
\if :{?role} \else \set role wxc_sync_runner \endif

-- "run --no-migrate" checks that no migration is pending.
GRANT SELECT ON goose_db_version TO :"role";
-- The run: reads due devices, writes their details and its own accounting.
GRANT SELECT, UPDATE ON devices TO :"role";
GRANT SELECT, INSERT, UPDATE ON device_sync_state TO :"role";
GRANT SELECT, INSERT, DELETE ON run_queue, run_listing TO :"role";
-- The check of the listing against the details (issue 13).
GRANT SELECT, INSERT ON listing_agreement TO :"role";
GRANT SELECT, INSERT, UPDATE ON listing_trust TO :"role";
GRANT SELECT, INSERT, UPDATE ON sync_runs TO :"role";
-- The run lock: a lease per scope, taken, renewed, checked (FOR KEY SHARE,
-- which needs UPDATE) and released by each run.
GRANT SELECT, INSERT, UPDATE, DELETE ON run_leases TO :"role";
-- History is appended, never changed. SELECT is needed because the write
-- returns the rows it inserted (INSERT ... RETURNING), and for the reports.
GRANT SELECT, INSERT ON device_changes TO :"role";

-- The BI views (they read only the tables above).
GRANT SELECT ON device_inventory, device_change_log TO :"role";
-- The timeline report follows IDs merged into one device (migration 00009).
GRANT SELECT ON device_id_merges TO :"role";
