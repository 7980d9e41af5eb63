package cli

import (
	"context"
	"github.com/jackc/pgx/v5"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/testbin"
)

// startPushgateway runs Debian's prometheus-pushgateway on a free port of
// the loopback, with its own storage, until the test ends, and returns
// its URL.
func startPushgateway(t *testing.T) string {
	t.Helper()
	bin := testbin.Need(t, testbin.Pushgateway)
	dir := t.TempDir()
	// A port found free may be taken before the gateway binds it: try a
	// few.
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cmd := exec.Command(bin, "--web.listen-address="+addr,
			"--persistence.file="+filepath.Join(dir, "pushgateway.db"), "--log.level=warn")
		var logs syncBuf
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		url := "http://" + addr
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				deadline = time.Time{} // it did not start (the port was taken): try another
				continue
			default:
			}
			if resp, err := http.Get(url + "/-/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Cleanup(stop)
					return url
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop()
		t.Logf("the Pushgateway on %s did not become ready:\n%s", addr, logs.String())
	}
	t.Fatal("could not start a Pushgateway")
	return ""
}

// gatewayMetrics scrapes the Pushgateway as Prometheus would and returns
// the wxc_sync metric families.
func gatewayMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	all, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse the Pushgateway's /metrics: %v\n%s", err, body)
	}
	out := map[string]*dto.MetricFamily{}
	for name, mf := range all {
		if strings.HasPrefix(name, "wxc_sync_") {
			out[name] = mf
		}
	}
	return out
}

// sample is one metric as scraped: its labels (name=value, sorted) and
// value.
type sample struct {
	labels string
	value  float64
}

func samples(mf *dto.MetricFamily) []sample {
	var out []sample
	for _, m := range mf.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		slices.Sort(ls)
		out = append(out, sample{strings.Join(ls, ","), m.GetGauge().GetValue()})
	}
	slices.SortFunc(out, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
	return out
}

// value is the one sample of a family without labels of its own, or of
// the one with extra labels (k=v), failing the test if there is not
// exactly one.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, extra ...string) float64 {
	t.Helper()
	mf, ok := fams[name]
	if !ok {
		t.Fatalf("the Pushgateway serves no %s", name)
	}
	want := strings.Join(append([]string{"instance=", "job=wxc_sync", "scope=all"}, extra...), ",")
	var found []float64
	for _, s := range samples(mf) {
		ls := strings.Split(s.labels, ",")
		slices.Sort(ls)
		w := strings.Split(want, ",")
		slices.Sort(w)
		if slices.Equal(ls, w) {
			found = append(found, s.value)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s{%s}: %d samples, want 1: %v", name, want, len(found), samples(mf))
	}
	return found[0]
}

// The metrics every run pushes, by name; wxc_sync_last_success_timestamp_seconds
// only on success.
var pushedGauges = []string{
	"wxc_sync_detail_max_age_seconds",
	"wxc_sync_last_completion_timestamp_seconds",
	"wxc_sync_last_details_age_max_seconds",
	"wxc_sync_last_details_age_p99_seconds",
	"wxc_sync_last_devices",
	"wxc_sync_last_devices_changed",
	"wxc_sync_last_devices_confirmed",
	"wxc_sync_last_devices_failed_tolerated",
	"wxc_sync_last_devices_refreshed",
	"wxc_sync_last_devices_sampled",
	"wxc_sync_last_duration_seconds",
	"wxc_sync_last_listing_comparisons",
	"wxc_sync_last_listing_disagreements",
	"wxc_sync_last_listing_distrusted_orgs",
	"wxc_sync_last_listing_requests",
	"wxc_sync_last_missed_changes",
	"wxc_sync_last_requests",
	"wxc_sync_last_run_id",
	"wxc_sync_last_status",
	"wxc_sync_last_success_timestamp_seconds",
	"wxc_sync_last_throttled",
	"wxc_sync_last_throttled_seconds",
}

// Runs push to a real Pushgateway, which serves what Prometheus scrapes:
// every metric a gauge in the job's group (job wxc_sync, scope), with the
// run's values. A second run replaces the first run's values rather than
// adding series beside them, and a failed run (pushed with POST) leaves
// the last success time in place, so that the no-success alert ages it.
func TestPushgatewayServesTheRunMetrics(t *testing.T) {
	t.Parallel()
	gw := startPushgateway(t)
	sim, base := startSim(t, 30)
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())
	args := []string{"run", "--api-url", base, "--rate", "1000", "--burst", "50", "--log-format", "json",
		"--detail-max-age", "6h", "--pushgateway-url", gw}
	env := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken}

	before := time.Now().Truncate(time.Second)
	if r := runCLI(t, env, args...); r.code != exitcode.OK {
		t.Fatalf("first run: code %d\n%s", r.code, r.stderr)
	}
	first := gatewayMetrics(t, gw)
	var names []string
	for name, mf := range first {
		names = append(names, name)
		if mf.GetType() != dto.MetricType_GAUGE || mf.GetHelp() == "" {
			t.Errorf("%s: type %s, help %q; want a gauge with its help", name, mf.GetType(), mf.GetHelp())
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, pushedGauges) {
		t.Errorf("metrics served:\n%v\nwant:\n%v", names, pushedGauges)
	}
	runID := queryInt(t, db, `SELECT max(run_id) FROM sync_runs`)
	requests := queryInt(t, db, `SELECT listing_requests + details_requests FROM sync_runs WHERE run_id = $1`, runID)
	for _, c := range []struct {
		name  string
		extra []string
		want  float64
	}{
		{"wxc_sync_last_run_id", nil, float64(runID)},
		{"wxc_sync_last_devices", []string{"outcome=ok"}, 30},
		{"wxc_sync_last_devices", []string{"outcome=failed"}, 0},
		{"wxc_sync_last_devices", []string{"outcome=not_found"}, 0},
		{"wxc_sync_last_devices", []string{"outcome=skipped"}, 0},
		{"wxc_sync_last_devices_failed_tolerated", nil, 0},
		{"wxc_sync_last_devices_changed", nil, 30}, // a first sync changes every device
		{"wxc_sync_last_requests", nil, float64(requests)},
		{"wxc_sync_last_status", []string{"status=succeeded"}, 1},
		{"wxc_sync_last_status", []string{"status=failed"}, 0},
		{"wxc_sync_last_status", []string{"status=partial"}, 0},
		{"wxc_sync_last_status", []string{"status=interrupted"}, 0},
		{"wxc_sync_last_throttled", nil, 0},
		{"wxc_sync_last_throttled_seconds", nil, 0},
		{"wxc_sync_last_listing_distrusted_orgs", nil, 0},
		{"wxc_sync_detail_max_age_seconds", nil, 6 * 3600},
	} {
		if got := value(t, first, c.name, c.extra...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.extra, got, c.want)
		}
	}
	// How stale the details were when the run ended, as sync_runs says.
	var ageMax, ageP99 float64
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.QueryRow(context.Background(), `SELECT details_age_max_seconds, details_age_p99_seconds FROM sync_runs WHERE run_id = $1`, runID).Scan(&ageMax, &ageP99)
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, first, "wxc_sync_last_details_age_max_seconds"); got != ageMax || got <= 0 || got > 60 {
		t.Errorf("details age max %v, want sync_runs' %v (seconds after a first sync)", got, ageMax)
	}
	if got := value(t, first, "wxc_sync_last_details_age_p99_seconds"); got != ageP99 || got > ageMax {
		t.Errorf("details age p99 %v, want sync_runs' %v (at most the max %v)", got, ageP99, ageMax)
	}
	if got := value(t, first, "wxc_sync_last_devices_refreshed"); got != 0 {
		t.Errorf("a first sync refreshed %v devices for age, want 0 (all were never synced)", got)
	}
	success1 := value(t, first, "wxc_sync_last_success_timestamp_seconds")
	if done := value(t, first, "wxc_sync_last_completion_timestamp_seconds"); success1 != done ||
		success1 < float64(before.Unix()) || success1 > float64(time.Now().Unix()) {
		t.Errorf("success time %v, completion %v: want the same moment, during the run (after %d)", success1, done, before.Unix())
	}
	if d := value(t, first, "wxc_sync_last_duration_seconds"); d <= 0 || d > time.Since(before).Seconds()+1 {
		t.Errorf("duration %v s", d)
	}

	// A second run, with one device gone: its values replace the first
	// run's; no series of the first run is left beside them.
	sim.Remove(sim.IDs()[0])
	time.Sleep(time.Second) // timestamps are whole seconds: let them differ
	if r := runCLI(t, env, append(args, "--detect", "none")...); r.code != exitcode.OK {
		t.Fatalf("second run: code %d\n%s", r.code, r.stderr)
	}
	second := gatewayMetrics(t, gw)
	for name, mf := range second {
		if got, want := len(mf.GetMetric()), len(first[name].GetMetric()); got != want {
			t.Errorf("%s: %d series after the second run, %d after the first: the push added to the group", name, got, want)
		}
	}
	if got := value(t, second, "wxc_sync_last_run_id"); got != float64(runID+1) {
		t.Errorf("run id %v after the second run, want %d", got, runID+1)
	}
	if ok, gone, changed := value(t, second, "wxc_sync_last_devices", "outcome=ok"), value(t, second, "wxc_sync_last_devices", "outcome=not_found"),
		value(t, second, "wxc_sync_last_devices_changed"); ok != 29 || gone != 1 || changed != 0 {
		t.Errorf("second run: ok %v, not_found %v, changed %v; want 29, 1, 0", ok, gone, changed)
	}
	success2 := value(t, second, "wxc_sync_last_success_timestamp_seconds")
	if success2 <= success1 {
		t.Errorf("success time %v after the second run, %v after the first", success2, success1)
	}

	// A failed run: its status and completion time replace the last
	// run's, the last success time stays.
	time.Sleep(time.Second)
	bad := map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": "bad-token"}
	if r := runCLI(t, bad, args...); r.code != exitcode.Failed {
		t.Fatalf("failed run: code %d\n%s", r.code, r.stderr)
	}
	third := gatewayMetrics(t, gw)
	if got := value(t, third, "wxc_sync_last_success_timestamp_seconds"); got != success2 {
		t.Errorf("success time %v after a failed run, want the last success's %v", got, success2)
	}
	if done := value(t, third, "wxc_sync_last_completion_timestamp_seconds"); done <= success2 {
		t.Errorf("completion time %v after a failed run, not later than the last success %v", done, success2)
	}
	if f, s := value(t, third, "wxc_sync_last_status", "status=failed"), value(t, third, "wxc_sync_last_status", "status=succeeded"); f != 1 || s != 0 {
		t.Errorf("status after a failed run: failed %v, succeeded %v", f, s)
	}
}

// A Pushgateway that fails or is not there changes nothing of the run:
// same exit code, the run recorded, one ERROR line saying so. The pushes
// are POSTs to the job's group.
func TestPushgatewayFaultsDoNotChangeTheRun(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var pushes []string
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		pushes = append(pushes, r.Method+" "+r.URL.Path)
		mu.Unlock()
		http.Error(w, "storage full", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // a refused connection

	// A gateway behind basic auth, with its credentials in the URL: they
	// are sent as the Authorization header and never logged, whether the
	// gateway answers an error or cannot be reached.
	var authOK atomic.Int32
	guarded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "gw-user" && p == "gw-s3cret" {
			authOK.Add(1)
		}
		http.Error(w, "storage full", http.StatusInternalServerError)
	}))
	t.Cleanup(guarded.Close)
	withAuth := func(raw string) string { return strings.Replace(raw, "http://", "http://gw-user:gw-s3cret@", 1) }

	for _, tc := range []struct{ name, url, want string }{
		{"500", failing.URL, "storage full"},
		{"refused", gone.URL, "connection refused"},
		{"500 with credentials", withAuth(guarded.URL), "storage full"},
		{"refused with credentials", withAuth(gone.URL), "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, base := startSim(t, 10)
			db := pgtest.DBURL(t)
			track(t, db, sim.IDs())
			r := runCLI(t, map[string]string{"DATABASE_URL": db, "WEBEX_TOKEN": cliToken},
				"run", "--api-url", base, "--rate", "1000", "--log-format", "json", "--pushgateway-url", tc.url)
			if r.code != exitcode.OK {
				t.Fatalf("code %d\n%s", r.code, r.stderr)
			}
			if n := queryInt(t, db, `SELECT count(*) FROM sync_runs WHERE status = 'succeeded' AND devices_ok = 10`); n != 1 {
				t.Errorf("%d succeeded runs recorded, want 1", n)
			}
			if !strings.Contains(r.stderr, `"msg":"could not push metrics"`) || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("no ERROR line about the push naming %q:\n%s", tc.want, r.stderr)
			}
			if strings.Contains(r.stderr+r.stdout, "gw-s3cret") {
				t.Errorf("the Pushgateway's password is in the output:\n%s", r.stderr)
			}
		})
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if len(pushes) != 1 || pushes[0] != "POST /metrics/job/wxc_sync/scope/all" {
			t.Errorf("pushes %v, want one POST (Add) to the job's group", pushes)
		}
		if authOK.Load() != 1 {
			t.Errorf("%d pushes with the URL's credentials as basic auth, want 1", authOK.Load())
		}
	})
}
