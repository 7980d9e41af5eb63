-- What the schema's migrations have done, read without goose, which
-- would create its table to answer: "wxc-sync check" and the commands that
-- do not migrate ask it of any role and database, changing nothing.

-- name: MigrationTableExists :one
SELECT (to_regclass('goose_db_version') IS NOT NULL)::boolean AS present;

-- name: MigrationVersions :many
-- Each version's last record: goose appends a row to apply a migration and
-- another to roll it back.
SELECT DISTINCT ON (version_id) version_id, is_applied
FROM goose_db_version
ORDER BY version_id, id DESC;
