-- What the job learns of, and sets in, its database session when it
-- connects (internal/store Open).

-- name: SessionTimeouts :one
-- The statement_timeout and lock_timeout the session runs with, in seconds
-- (0: none): the connection string's, the job's defaults, or the server's
-- or role's when a pooler did not pass the job's on.
SELECT extract(epoch FROM current_setting('statement_timeout')::interval)::float8 AS statement_timeout,
       extract(epoch FROM current_setting('lock_timeout')::interval)::float8      AS lock_timeout;

-- name: SetSessionTimeouts :exec
-- The job's defaults, set in the session after connecting, for a pooler in
-- session mode that refuses them as startup parameters.
SELECT set_config('statement_timeout', @statement_timeout::text, false),
       set_config('lock_timeout', @lock_timeout::text, false);

-- name: PlanBatchWrite :exec
-- For the rest of the transaction, a prepared statement runs its generic
-- plan from its first execution on (plan_cache_mode): a batch write's plan
-- does not depend on the values of its arrays, and PostgreSQL would
-- otherwise plan it anew for each of its first five executions on every
-- connection, each plan taking about as long as writing the batch. And it
-- joins its rows to the tables by key, one index look-up a row, never by
-- hashing or sorting a whole table: a generic plan made while a table was
-- small (device_sync_state before a first sync) is used against it full.
SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
       set_config('enable_hashjoin', 'off', true),
       set_config('enable_mergejoin', 'off', true);
