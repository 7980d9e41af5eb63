#!/usr/bin/env bash
# Loads 1,000,000 devices into a scratch database and times the look-up that
# devices show, devices list --mac and report device_timeline run
# (FindDevices in queries/devices.sql, as sqlc sends it) for each form of
# identifier: an ID, a MAC, a short ID. Each form runs with the look-up
# indexes (migrations 00014 and 00018) and, in the same session, with them
# dropped inside a transaction that is rolled back: the ratio is the
# indexes' worth. Not part of go test:
# loading takes about 3 minutes on the 2-core development machine (the
# device_key of every row is computed by a PL/pgSQL function).
#
#   scripts/explain-lookup.sh [ADMIN_DATABASE_URL]
#
# ADMIN_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# must be allowed to CREATE DATABASE; the scratch database wxc_explain_lookup
# is dropped and re-created. DEVICES sets the fleet; KEEP=1 keeps the
# database.
set -euo pipefail
cd "$(dirname "$0")/.."
admin=${1:-${ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
name=wxc_explain_lookup
db=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$admin" "$name")
devices=${DEVICES:-1000000}

psql -q "$admin" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
go run ./cmd/sync migrate --database-url "$db" --log-level warn

echo "== loading $devices devices"
# Rows about as wide as synced ones (a details payload of some 400 bytes),
# every one with a MAC from the details and from the listing.
time psql -q "$db" <<SQL
INSERT INTO devices (device_id, mac, listed_mac, model, display_name, sync_status, details)
SELECT replace(encode(convert_to('ciscospark://us/CALLING_DEVICE/' || upper(gen_random_uuid()::text), 'UTF8'), 'base64'), E'\n', ''),
       m, m, 'DMS Cisco 8811', 'Phone ' || g, 'ok', jsonb_build_object('id', g, 'pad', repeat('x', 300))
FROM generate_series(1::bigint, $devices) g,
     LATERAL (SELECT lpad(to_hex((g * 7919) % 281474976710655), 12, '0')::macaddr AS m) x;
SQL
psql -q "$db" -c "VACUUM ANALYZE devices"

# The statement exactly as sqlc generated it, bound as the store binds it:
# raw, device_key, mac, key_from, key_to, max_prefix.
find_sql=$(python3 - <<'PY'
import re
s = open("internal/dbsqlc/devices.sql.go").read()
print(re.search(r"const findDevices = `(.*?)`", s, re.S).group(1).strip().rstrip(";"))
PY
)
read -r id key mac short short_to < <(psql -X -At -F' ' "$db" -c "
  SELECT device_id, device_key, mac, left(device_key, 13), left(device_key, 12) || chr(ascii(substr(device_key, 13, 1)) + 1)
  FROM devices ORDER BY device_id OFFSET ($devices / 2) LIMIT 1")

lookups() { # label: each form three times
  local label=$1 what args
  for form in "id:'$id', '$key', NULL, NULL, NULL" "mac:'$mac', NULL, '$mac', NULL, NULL" "short-id:'$short', NULL, NULL, '$short', '$short_to'"; do
    what=${form%%:*} args=${form#*:}
    for _ in 1 2 3; do
      echo "\\echo $label $what"
      echo "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) EXECUTE f($args, 21);"
    done
  done
}

run() { # label, SQL to run first in the transaction
  { echo "BEGIN;"; echo "$2"
    echo "PREPARE f(text, text, macaddr, text, text, int) AS $find_sql;"
    lookups "$1"
    echo "ROLLBACK;"
  } | psql -X -q -At "$db" -f - | grep -E "^$1 |^[A-Z].*actual rows|Execution Time" | paste -d'|' - - - \
    | sed -E 's/\|[^|]*\(actual (rows=[0-9]+) loops=1\)\|/ (\1) /'
}

echo "== FindDevices at $devices devices: with the look-up indexes (migrations 00014 and 00018), then without"
run indexed ""
run unindexed "DROP INDEX devices_mac_idx, devices_listed_mac_idx, devices_device_key_idx;"
if [ -z "${KEEP:-}" ]; then psql -q "$admin" -c "DROP DATABASE $name WITH (FORCE)"; fi
