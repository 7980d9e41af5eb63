package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/report"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestParse(t *testing.T) {
	t.Parallel()
	r, err := report.Parse("x", `-- Things in a window,
-- over two lines.
-- Parameters: days (default 7), device_id (required)
\if :{?days} \else \set days 7 \endif
SELECT :'device_id' AS id, :'days'::int AS days, ':not_a_var' AS literal, now()::date
WHERE :'days'::int > 0;
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []report.Param{{Name: "device_id", Required: true}, {Name: "days", Default: "7"}}
	if diff := cmp.Diff(want, r.Params); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
	if r.Description != "Things in a window, over two lines." {
		t.Errorf("description %q", r.Description)
	}
	if _, err := report.Parse("bad", "SELECT :days;"); err == nil {
		t.Errorf("an unquoted psql variable was accepted")
	}
	r, err = report.Parse("one_of", "-- Changes.\n-- field is one of: ip, mac.\n\\set field ''\nSELECT :'field';")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]report.Param{{Name: "field", OneOf: []string{"ip", "mac"}}}, r.Params); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
	for v, ok := range map[string]bool{"ip": true, "": true, "IP": false, "mac ": false} {
		errs := r.Check(map[string]string{"field": v})
		var pe *report.ParamError
		if got := len(errs) == 0; got != ok || (!ok && (!errors.As(errs[0], &pe) || pe.Name != "field")) {
			t.Errorf("field=%q: %v, want ok %v", v, errs, ok)
		}
	}
	if _, err := report.Parse("bad", "-- colour is one of: red, blue\nSELECT 1;"); err == nil {
		t.Errorf("values of no parameter were accepted")
	}
	// A quoted default is one value, as psql reads it: '24 hours' is not
	// 24 (seconds, as an interval).
	r, err = report.Parse("quoted", `\if :{?max_age} \else \set max_age '24 hours' \endif
\if :{?who} \else \set who 'O''Brien' \endif
\if :{?none} \else \set none '' \endif
SELECT :'max_age'::interval, :'who', :'none';`)
	if err != nil {
		t.Fatal(err)
	}
	want = []report.Param{{Name: "max_age", Default: "24 hours"}, {Name: "who", Default: "O'Brien"}, {Name: "none"}}
	if diff := cmp.Diff(want, r.Params); diff != "" {
		t.Errorf("quoted defaults (-want +got):\n%s", diff)
	}
}

// TestEnumeratedParametersMatchTheSchema: the values a report's header
// promises for field are those device_changes.field may hold.
func TestEnumeratedParametersMatchTheSchema(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	var check string
	if err := pool.QueryRow(context.Background(), `SELECT pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = 'device_changes'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%field%'`).Scan(&check); err != nil {
		t.Fatal(err)
	}
	all, err := report.All()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, r := range all {
		for _, p := range r.Params {
			if p.Name != "field" {
				continue
			}
			seen++
			var schema []string
			for _, m := range regexp.MustCompile(`'(\w+)'`).FindAllStringSubmatch(check, -1) {
				schema = append(schema, m[1])
			}
			if diff := cmp.Diff(schema, p.OneOf); diff != "" {
				t.Errorf("%s: field is one of (-schema +header):\n%s", r.Name, diff)
			}
		}
	}
	if seen == 0 {
		t.Error("no report has a field parameter: the check covers nothing")
	}
}

func TestReportsRunAndMatchIndependentQueries(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
		INSERT INTO sync_runs (status) VALUES ('succeeded'), ('succeeded');
		INSERT INTO devices (device_id, model, manufacturer, sync_status, ip, activation_state) VALUES
		  ('A', 'DMS Cisco 8811', 'CISCO', 'ok', '10.0.0.2', 'activated'),
		  ('B', 'DMS Cisco 8811', 'CISCO', 'error', '10.0.0.9', NULL),
		  ('C', 'Yealink T54W', 'THIRD_PARTY', 'ok', NULL, 'activating');
		INSERT INTO device_changes (device_id, run_id, field, old_value, new_value, changed_at) VALUES
		  ('A', 1, 'ip', NULL, '10.0.0.1', now() - interval '20 days'),
		  ('A', 1, 'ip', '10.0.0.1', '10.0.0.2', now() - interval '1 hour'),
		  ('B', 1, 'ip', '10.0.0.8', '10.0.0.9', now() - interval '8 days'),
		  ('C', 2, 'activation_state', 'activated', 'activating', now() - interval '2 hours');`)
	if err != nil {
		t.Fatal(err)
	}
	all, err := report.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 5 {
		t.Fatalf("only %d reports shipped", len(all))
	}
	for _, r := range all {
		params := map[string]string{}
		for _, p := range r.Params {
			if p.Required {
				params[p.Name] = "A"
			}
		}
		if _, err := r.Run(ctx, pool, params); err != nil {
			t.Errorf("report %s: %v", r.Name, err)
		}
		// --limit wraps the report's SQL in a subquery: every file must
		// survive that (one statement, nothing after its semicolon).
		for _, format := range []string{"table", "csv", "json", "html"} {
			if _, err := r.Stream(ctx, pool, params, report.Output{Format: format, Limit: 1}, io.Discard); err != nil {
				t.Errorf("report %s --limit 1 --format %s: %v", r.Name, format, err)
			}
		}
	}

	// ip_changes with its default window (7 days) against a query written
	// independently of the report file.
	ipr, err := report.Find("ip_changes")
	if err != nil {
		t.Fatal(err)
	}
	for _, days := range []string{"", "10"} {
		params := map[string]string{}
		want := `SELECT device_id, old_value, new_value FROM device_changes
		         WHERE field = 'ip' AND old_value IS NOT NULL AND changed_at > now() - interval '7 days' ORDER BY changed_at DESC`
		if days != "" {
			params["days"] = days
			want = strings.Replace(want, "7 days", days+" days", 1)
		}
		res, err := ipr.Run(ctx, pool, params)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := pool.Query(ctx, want)
		wantRows, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ ID, Old, New string }])
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, c := range res.Columns {
			col[c] = i
		}
		var got []struct{ ID, Old, New string }
		for _, row := range res.Rows {
			got = append(got, struct{ ID, Old, New string }{*row[col["device_id"]], *row[col["old_ip"]], *row[col["new_ip"]]})
		}
		if diff := cmp.Diff(wantRows, got); diff != "" || len(got) == 0 {
			t.Errorf("ip_changes days=%q (-independent +report):\n%s", days, diff)
		}
	}

	// Formats carry the same rows.
	res, err := report.Find("inventory_by_model")
	if err != nil {
		t.Fatal(err)
	}
	out, err := res.Run(ctx, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	var csvBuf, jsonBuf, tableBuf bytes.Buffer
	for f, buf := range map[string]*bytes.Buffer{"csv": &csvBuf, "json": &jsonBuf, "table": &tableBuf} {
		if err := out.Write(buf, f); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := csv.NewReader(&csvBuf).ReadAll()
	if err != nil || len(recs) != 3 || recs[1][0] != "DMS Cisco 8811" || recs[1][2] != "2" {
		t.Errorf("csv = %v (err %v)", recs, err)
	}
	// JSON is typed: counts are numbers; CSV (above) stays text.
	var js []map[string]any
	if err := json.Unmarshal(jsonBuf.Bytes(), &js); err != nil {
		t.Fatalf("json = %s (err %v)", jsonBuf.String(), err)
	}
	wantJS := []map[string]any{
		{"model": "DMS Cisco 8811", "manufacturer": "CISCO", "devices": float64(2), "synced_ok": float64(1), "not_ok": float64(1)},
		{"model": "Yealink T54W", "manufacturer": "THIRD_PARTY", "devices": float64(1), "synced_ok": float64(1), "not_ok": float64(0)},
	}
	if diff := cmp.Diff(wantJS, js); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
	if !strings.Contains(tableBuf.String(), "(2 rows)") {
		t.Errorf("table = %s", tableBuf.String())
	}

	// Bad parameters are named.
	tl, _ := report.Find("device_timeline")
	if _, err := tl.Run(ctx, pool, nil); err == nil || !strings.Contains(err.Error(), "device_id") {
		t.Errorf("missing required parameter: %v", err)
	}
	if _, err := tl.Run(ctx, pool, map[string]string{"device_id": "A", "nope": "1"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown parameter: %v", err)
	}
}
