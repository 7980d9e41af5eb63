-- Devices by activation state. Webex sets the state only for devices added
-- with an activation code, so "(absent)" is common and normal.
-- Run: psql -f queries/reports/inventory_by_activation_state.sql
SELECT coalesce(activation_state, '(absent)') AS activation_state,
       count(*)                               AS devices
FROM devices
WHERE sync_status IN ('ok', 'not_found')
GROUP BY activation_state
ORDER BY devices DESC, activation_state;
