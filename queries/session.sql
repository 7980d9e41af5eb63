-- What the job learns of its database session when it connects
-- (internal/store Open).

-- name: SessionStatementTimeout :one
-- The statement_timeout the session runs with, in seconds (0: none): the
-- connection string's, the job's default, or the server's or role's when a
-- pooler did not pass the job's on.
SELECT extract(epoch FROM current_setting('statement_timeout')::interval)::float8 AS seconds;
