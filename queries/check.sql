-- What "wxc-sync check" asks the database: who it is talking to, what is
-- tracked, and which of the run's grants (scripts/least-privilege.sql) the
-- role lacks. Each is one statement, and none changes anything.

-- name: ServerIdentity :one
SELECT current_setting('server_version') AS server_version,
       current_user::text               AS role_name,
       current_database()::text         AS database_name;

-- name: TrackedSample :one
-- How many devices are tracked, and one of them to ask Webex about.
SELECT count(*)::int                      AS tracked,
       coalesce(min(device_id), '')::text AS sample_id
FROM devices;

-- name: LackedPrivileges :many
-- Of the grants given (table and privilege, pairwise), those the role does
-- not hold; present is false for a table or view that does not exist yet.
WITH grants AS (
    SELECT unnest(@table_names::text[]) AS table_name,
           unnest(@privileges::text[])  AS privilege
)
SELECT table_name::text                AS table_name,
       privilege::text                 AS privilege,
       (to_regclass(table_name) IS NOT NULL)::boolean AS present
FROM grants
WHERE to_regclass(table_name) IS NULL
   OR NOT has_table_privilege(to_regclass(table_name), privilege);
