package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/report"
)

// firstWriteProbe blocks the first write until the probe has looked at the
// server: a report that streams writes while PostgreSQL still sends rows.
type firstWriteProbe struct {
	once    sync.Once
	probe   func() string
	sawWait string
	buf     bytes.Buffer
}

func (p *firstWriteProbe) Write(b []byte) (int, error) {
	p.once.Do(func() { p.sawWait = p.probe() })
	return p.buf.Write(b)
}

// Reports stream: the first row reaches the writer while the server is
// still sending the rest (it waits on the client, ClientWrite), which a
// buffered result could not do.
func TestReportsStreamRows(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	ctx := context.Background()
	r, err := report.Parse("big", "-- A large result.\nSELECT g AS n, 'row ' || g AS label FROM generate_series(1, 400000) g;")
	if err != nil {
		t.Fatal(err)
	}
	probePool := pgtest.DB(t) // another database: only its own connection
	for _, format := range []string{"csv", "json", "table", "html"} {
		t.Run(format, func(t *testing.T) {
			w := &firstWriteProbe{probe: func() string { return streamingBackend(t, probePool, pool) }}
			n, err := r.Stream(ctx, pool, nil, report.Output{Format: format}, w)
			if err != nil {
				t.Fatal(err)
			}
			if n != 400000 {
				t.Errorf("%d rows, want 400000", n)
			}
			if w.sawWait != "ClientWrite" {
				t.Errorf("at the first write the report's backend waited on %q; want ClientWrite (still sending rows)", w.sawWait)
			}
		})
	}
}

// streamingBackend returns the wait event of the backend running the big
// report in pool's database, polling until it shows one or ten seconds pass.
func streamingBackend(t *testing.T, probe, pool *pgxpool.Pool) string {
	db := pool.Config().ConnConfig.Database
	var wait string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		err := probe.QueryRow(context.Background(), `
			SELECT coalesce(wait_event, '') FROM pg_stat_activity
			WHERE datname = $1 AND query LIKE '%generate_series(1, 400000)%' AND state = 'active'`, db).Scan(&wait)
		if err == nil && wait == "ClientWrite" {
			return wait
		}
		time.Sleep(20 * time.Millisecond)
	}
	return wait
}

func TestJSONIsTypedAndCSVIsText(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	r, err := report.Parse("types", `-- Every kind.
SELECT 1::int AS i, 2::bigint AS b, 1.50::numeric AS num, 'NaN'::numeric AS nan, 0.25::float8 AS f,
       true AS yes, false AS no, NULL::int AS nothing, '{"a":[1,2]}'::jsonb AS doc,
       'x'::text AS s, '2026-01-02 03:04:05.678+00'::timestamptz AS at, '42' AS numeric_text;`)
	if err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if _, err := r.Stream(context.Background(), pool, nil, report.Output{Format: "json"}, &js); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, js.String())
	}
	want := []map[string]any{{
		"i": float64(1), "b": float64(2), "num": 1.5, "nan": "NaN", "f": 0.25, "yes": true, "no": false,
		"nothing": nil, "doc": map[string]any{"a": []any{float64(1), float64(2)}}, "s": "x",
		"at": "2026-01-02 03:04:05.678+00", "numeric_text": "42",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(js.String(), `[`+"\n"+`{"i":1,"b":2,"num":1.50,`) {
		t.Errorf("keys are not in column order, or numbers lost their text: %s", js.String())
	}
	var csvOut bytes.Buffer
	if _, err := r.Stream(context.Background(), pool, nil, report.Output{Format: "csv"}, &csvOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csvOut.String(), `1,2,1.50,NaN,0.25,t,f,,"{""a"": [1, 2]}",x,2026-01-02 03:04:05.678+00,42`) {
		t.Errorf("csv: %s", csvOut.String())
	}
}

func TestLimitAndBadParameters(t *testing.T) {
	t.Parallel()
	pool := pgtest.DB(t)
	r, err := report.Parse("series", "-- Numbers.\n\\set days 3\nSELECT g FROM generate_series(1, :'days'::int) g;")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := r.Stream(context.Background(), pool, map[string]string{"days": "50"}, report.Output{Format: "csv", Limit: 7}, &out)
	if err != nil || n != 7 || strings.Count(out.String(), "\n") != 8 {
		t.Errorf("limit 7: %d rows, err %v:\n%s", n, err, out.String())
	}
	for _, bad := range []string{"abc", "99999999999"} {
		_, err = r.Stream(context.Background(), pool, map[string]string{"days": bad}, report.Output{Format: "csv"}, &out)
		var pe *report.ParamError
		if !errors.As(err, &pe) || pe.Name != "days" || pe.Value != bad || strings.Contains(pe.Reason, "SQLSTATE") {
			t.Errorf("days=%s: %v, want a ParamError naming days", bad, err)
		}
	}
}
