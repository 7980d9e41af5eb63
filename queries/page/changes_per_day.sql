-- History rows per UTC day and field over the last :days days, every day
-- present (zero when nothing changed). changed: a value replaced by another
-- or gone; from_absent: a value recorded where there was none (a device's
-- first sync, or a value that appeared).
-- Parameters: days (default 30)
-- Run: psql -f queries/page/changes_per_day.sql
\if :{?days} \else \set days 30 \endif
WITH days AS (
    SELECT generate_series(date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => :'days'::int - 1),
                           date_trunc('day', now() AT TIME ZONE 'UTC'), interval '1 day') AS day
), counts AS (
    SELECT date_trunc('day', changed_at AT TIME ZONE 'UTC') AS day,
           count(*) FILTER (WHERE field = 'activation_state' AND old_value IS NOT NULL) AS activation_state,
           count(*) FILTER (WHERE field = 'ip' AND old_value IS NOT NULL)               AS ip,
           count(*) FILTER (WHERE field = 'mac' AND old_value IS NOT NULL)              AS mac,
           count(*) FILTER (WHERE old_value IS NULL)                                    AS from_absent
    FROM device_changes
    WHERE changed_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => :'days'::int - 1)) AT TIME ZONE 'UTC'
    GROUP BY 1
)
SELECT to_char(days.day, 'YYYY-MM-DD')      AS day,
       coalesce(c.activation_state, 0)      AS activation_state,
       coalesce(c.ip, 0)                    AS ip,
       coalesce(c.mac, 0)                   AS mac,
       coalesce(c.from_absent, 0)           AS from_absent
FROM days
LEFT JOIN counts c USING (day)
ORDER BY days.day;
