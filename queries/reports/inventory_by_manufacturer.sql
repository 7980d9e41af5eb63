-- Devices by manufacturer and management (who manages the device: CISCO, CUSTOMER, PARTNER).
-- Run: psql -f queries/reports/inventory_by_manufacturer.sql
SELECT coalesce(manufacturer, '(not yet synced)')  AS manufacturer,
       coalesce(managed_by, '(not yet synced)')    AS managed_by,
       count(*)                                    AS devices,
       count(*) FILTER (WHERE sync_status = 'ok')  AS synced_ok,
       count(DISTINCT model)                       AS models
FROM devices
GROUP BY manufacturer, managed_by
ORDER BY devices DESC, manufacturer, managed_by;
