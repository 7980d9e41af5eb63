-- Devices by model: how many of each, and how many synced successfully.
-- Run: psql -f queries/reports/inventory_by_model.sql
SELECT coalesce(model, '(not yet synced)')          AS model,
       coalesce(manufacturer, '')                   AS manufacturer,
       count(*)                                     AS devices,
       count(*) FILTER (WHERE sync_status = 'ok')   AS synced_ok,
       count(*) FILTER (WHERE sync_status <> 'ok')  AS not_ok
FROM devices
GROUP BY model, manufacturer
ORDER BY devices DESC, model;
