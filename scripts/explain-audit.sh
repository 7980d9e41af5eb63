#!/usr/bin/env bash
# Loads 1,000,000 history rows (10,000 devices, 400 days) into a scratch
# database and prints EXPLAIN ANALYZE of the audit reports, to show that the
# time-window and per-device queries use the indexes. Not part of go test:
# it takes about a minute. docs/REPORTS.md, "Indexes on a large history", quotes
# its output.
#
#   scripts/explain-audit.sh [ADMIN_DATABASE_URL]
#
# ADMIN_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# must be allowed to CREATE DATABASE; the scratch database wxc_explain_audit
# is dropped and re-created.
set -euo pipefail
cd "$(dirname "$0")/.."
admin=${1:-${ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
name=wxc_explain_audit
db=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$admin" "$name")
rows=${ROWS:-1000000}

psql -q "$admin" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
go run ./cmd/sync migrate --database-url "$db" --log-level warn

echo "== loading $rows history rows"
time psql -q "$db" <<SQL
INSERT INTO sync_runs (status) VALUES ('succeeded');
INSERT INTO devices (device_id, model, sync_status, last_synced_at)
SELECT 'dev' || lpad(g::text, 5, '0'), 'DMS Cisco 88' || (g % 5 + 41), 'ok', now() - (g % 20) * interval '1 day'
FROM generate_series(0, 9999) g;
INSERT INTO device_changes (device_id, run_id, field, old_value, new_value, changed_at)
SELECT 'dev' || lpad((g % 10000)::text, 5, '0'), 1, f.field,
       CASE f.field WHEN 'ip' THEN '10.0.' || (g % 250) || '.1' WHEN 'mac' THEN '11:22:33:44:55:' || lpad(to_hex(g % 256), 2, '0') ELSE 'activated' END,
       CASE f.field WHEN 'ip' THEN '10.1.' || (g % 250) || '.2' WHEN 'mac' THEN 'aa:22:33:44:55:' || lpad(to_hex(g % 256), 2, '0') ELSE 'activating' END,
       now() - ($rows - g) * (interval '400 days' / $rows)
FROM generate_series(1, $rows) g
CROSS JOIN LATERAL (SELECT (ARRAY['ip','ip','ip','ip','ip','ip','activation_state','activation_state','activation_state','mac'])[1 + (g / 10000 * 7 + g) % 10] AS field) f;
VACUUM ANALYZE device_changes;
VACUUM ANALYZE devices;
SQL

explain() { # report file, psql -v arguments...
  local file=$1; shift
  echo
  echo "== $(basename "$file" .sql) $*"
  awk 'BEGIN{done=0} !done && $0 !~ /^(--|\\\\)/ && $0 !~ /^[[:space:]]*$/ {print "EXPLAIN (ANALYZE, BUFFERS)"; done=1} {print}' "$file" \
    | psql -X -q "$db" "$@" -f - \
    | grep -E 'Index|Seq Scan|Bitmap|Sort Method|Execution Time|Planning Time|->|^ [A-Z]' | sed 's/^/    /'
}
explain queries/reports/changes_in_window.sql -v since="$(date -u -d '-1 day' +%FT%TZ)"
explain queries/reports/ip_changes.sql -v days=7
explain queries/reports/mac_changes.sql -v days=30
explain queries/reports/activation_regressions.sql -v days=30
explain queries/reports/device_timeline.sql -v device_id=dev00042
explain queries/reports/state_as_of.sql -v as_of="$(date -u -d '-200 days' +%FT%TZ)"
if [ -z "${KEEP:-}" ]; then psql -q "$admin" -c "DROP DATABASE $name WITH (FORCE)"; fi
