-- One tracked device's inventory row: every column of the device_inventory view (the details, the listing's fields, the sync state).
-- Parameters: device_id (required)
-- Run: psql -v device_id=Y2lzY29... -f queries/reports/device_row.sql
SELECT *
FROM device_inventory
WHERE device_id = :'device_id';
