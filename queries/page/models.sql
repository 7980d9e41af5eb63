-- Devices by model, most common first; gone devices counted apart.
-- Run: psql -f queries/page/models.sql
SELECT coalesce(model, '(not yet synced)')                 AS model,
       count(*) FILTER (WHERE sync_status <> 'not_found')  AS devices,
       count(*) FILTER (WHERE sync_status = 'not_found')   AS gone
FROM devices
GROUP BY 1
ORDER BY devices DESC, gone DESC, model;
