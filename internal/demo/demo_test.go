package demo_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/demo"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestDemoSyncsChurnsAndReports(t *testing.T) {
	t.Parallel()
	server := pgtest.DBURL(t) // the demo creates its own database on this server
	name := fmt.Sprintf("wxc_sync_demo_test_%d", os.Getpid())
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), server)
		if err == nil {
			conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})
	var out strings.Builder
	const devices = 400
	pagePath := filepath.Join(t.TempDir(), "fleet.html")
	res, err := demo.Run(context.Background(), demo.Options{DatabaseURL: server, DatabaseName: name, Devices: devices, Seed: 5, PagePath: pagePath}, &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if res.First.Status != store.RunSucceeded || res.First.Counts.OK != devices {
		t.Errorf("first sync: %s, %d ok; want all %d", res.First.Status, res.First.Counts.OK, devices)
	}
	removed := map[string]bool{}
	for _, id := range res.Churn.Removed {
		removed[id] = true
	}
	wantChanges := 0
	for _, l := range [][]webexsim.FieldChange{res.Churn.IPChanged, res.Churn.MACChanged, res.Churn.ActivationChanged} {
		for _, c := range l {
			if !removed[c.ID] {
				wantChanges++
			}
		}
	}
	if res.Second.Counts.NotFound != len(res.Churn.Removed) || res.Second.Counts.Changes != wantChanges || res.Second.Counts.Failed != 0 {
		t.Errorf("second sync: %+v; want %d not found and %d changes", res.Second.Counts, len(res.Churn.Removed), wantChanges)
	}
	for _, want := range []string{
		"Devices by model", "Devices by activation state", "History recorded by the second sync",
		"IP changes", "Runs", "Explore further", "queries/reports/",
		fmt.Sprintf("%d devices, %d ok", devices, devices),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// It ends with the fleet page, and says where it is.
	page, err := os.ReadFile(pagePath)
	if err != nil || res.PagePath != pagePath || !strings.Contains(out.String(), pagePath) {
		t.Errorf("fleet page %s (result %q): %v; the output must name it:\n%s", pagePath, res.PagePath, err, out.String())
	}
	if n := strings.Count(string(page), `<svg class="chart"`); n != 4 || !strings.Contains(string(page), fmt.Sprintf("<b>%d</b>", devices)) {
		t.Errorf("fleet page: %d charts, want 4, and %d devices tracked", n, devices)
	}
	// The demo touched only its own database.
	conn, err := pgx.Connect(context.Background(), server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM devices").Scan(&n); err != nil || n != 0 {
		t.Errorf("the server's own database has %d devices (err %v); the demo must not touch it", n, err)
	}
}
