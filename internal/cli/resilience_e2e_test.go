package cli

import (
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/exitcode"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/waitfor"
	"github.com/wxc-inventory/wxc-sync/internal/webexsim"
)

// A run survives its database: sessions ended under it, a restart of the
// server, and a network cut long enough for another run to take over,
// which stops it. Each runs the real binary against the simulator over
// HTTP and a real PostgreSQL.

// TestRunSurvivesSessionsEndedEveryHalfSecond ends every session of the
// job every 0.5 s, the ones that renew its lock included: the run
// reconnects each time, finishes with exit 0, and stores every device
// once.
func TestRunSurvivesSessionsEndedEveryHalfSecond(t *testing.T) {
	t.Parallel()
	const fleet = 3000
	sim, base := startSim(t, fleet)
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())
	killer := connect(t, db)
	var killed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			var n int64
			// The job names its sessions wxc-sync; the killer's own are
			// another application's.
			if err := killer.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
				FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'wxc-sync'`).Scan(&n); err != nil {
				t.Error(err)
				return
			}
			killed.Add(n)
		}
	}()
	env := []string{"DATABASE_URL=" + db, "WEBEX_TOKEN=" + cliToken, "WEBEX_API_URL=" + base, "LOG_FORMAT=json"}
	p := startProc(t, env, "run", "--rate", "400", "--burst", "20", "--batch-size", "100", "--no-migrate")
	<-p.done
	close(stop)
	wg.Wait()
	if p.code != exitcode.OK {
		t.Fatalf("run: exit %d after %d sessions ended\n%s", p.code, killed.Load(), p.stderr)
	}
	if killed.Load() < 5 {
		t.Fatalf("only %d sessions were ended during the run: the test proves little", killed.Load())
	}
	assertStoredOnce(t, db, fleet)
	t.Logf("sessions ended during the run: %d", killed.Load())
}

// TestRunSurvivesARestartOfTheServer restarts a private server (pg_ctl
// restart -m fast, which ends every session) in the middle of a run: the
// run reconnects once the server is back, finishes with exit 0, and
// stores every device once.
func TestRunSurvivesARestartOfTheServer(t *testing.T) {
	t.Parallel()
	const fleet = 2000
	cluster := pgtest.PrivateServer(t)
	db := pgtest.MigratedDB(t, cluster, "wxc")
	sim, base := startSim(t, fleet)
	track(t, db, sim.IDs())
	env := []string{"DATABASE_URL=" + db, "WEBEX_TOKEN=" + cliToken, "WEBEX_API_URL=" + base, "LOG_FORMAT=json"}
	p := startProc(t, env, "run", "--rate", "300", "--burst", "20", "--batch-size", "100", "--no-migrate")
	waitfor.Cond(t, "the run to store its first devices", func() bool {
		return queryInt(t, db, `SELECT count(*) FROM device_sync_state`) >= 300
	})
	if err := cluster.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-p.done
	if p.code != exitcode.OK {
		t.Fatalf("run: exit %d after a restart\n%s", p.code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "trying again") {
		t.Errorf("the run never had to reconnect: the restart came too late to prove anything\n%s", p.stderr)
	}
	assertStoredOnce(t, db, fleet)
}

// TestATakeOverStopsARunCutOffFromItsDatabase cuts a run off from its
// database (a network cut, through a proxy) for longer than its lease;
// another run takes the scope over. When the network comes back, the first
// run finds it was taken over, says so and exits 1, and has committed
// nothing since the cut: the new run's scope is its own.
func TestATakeOverStopsARunCutOffFromItsDatabase(t *testing.T) {
	t.Parallel()
	const fleet = 2000
	sim, base := startSim(t, fleet)
	db := pgtest.DBURL(t)
	track(t, db, sim.IDs())
	px := newCutProxy(t, db)
	oldEnv := []string{"DATABASE_URL=" + px.url, "WEBEX_TOKEN=" + cliToken, "WEBEX_API_URL=" + base, "LOG_FORMAT=json"}
	old := startProc(t, oldEnv, "run", "--rate", "200", "--burst", "10", "--batch-size", "50", "--detect", "none", "--lock-lease", "3s", "--no-migrate")
	waitfor.Cond(t, "the old run to store its first devices", func() bool {
		return queryInt(t, db, `SELECT count(*) FROM device_sync_state`) >= 200
	})
	oldRun := queryInt(t, db, `SELECT run_id FROM sync_runs`)

	px.cut()
	waitfor.Cond(t, "the old run's sessions to end", func() bool {
		return queryInt(t, db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'wxc-sync'`) == 0
	})
	storedAtCut := queryInt(t, db, `SELECT count(*) FROM device_sync_state WHERE last_run_id = $1`, oldRun)
	historyAtCut := queryInt(t, db, `SELECT count(*) FROM device_changes WHERE run_id = $1`, oldRun)
	waitfor.Cond(t, "the old run's lease to expire", func() bool {
		return queryInt(t, db, `SELECT count(*) FROM run_leases WHERE expires_at < now()`) == 1
	})

	// The new run takes over and holds the scope: every request of it
	// stalls, so that it writes no device while the old run comes back.
	for _, id := range sim.IDs() {
		sim.SetFault(id, webexsim.Fault{Kind: webexsim.FaultStall})
	}
	newEnv := []string{"DATABASE_URL=" + db, "WEBEX_TOKEN=" + cliToken, "WEBEX_API_URL=" + base, "LOG_FORMAT=json"}
	next := startProc(t, newEnv, "run", "--concurrency", "2", "--detect", "none", "--request-timeout", "10m", "--no-migrate")
	waitfor.Cond(t, "the new run to take over and mark the old one abandoned", func() bool {
		return queryInt(t, db, `SELECT count(*) FROM sync_runs WHERE run_id = $1 AND status = 'abandoned'`, oldRun) == 1
	})
	newRun := queryInt(t, db, `SELECT max(run_id) FROM sync_runs`)

	px.restore()
	select {
	case <-old.done:
	case <-time.After(waitfor.Bound):
		t.Fatalf("the old run did not stop once its database was back\n%s", old.stderr)
	}
	if old.code != exitcode.Failed || !strings.Contains(old.stderr.String(), "another run took over this run's scope") {
		t.Errorf("old run: exit %d, want 1 saying it was taken over\n%s", old.code, old.stderr)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM device_sync_state WHERE last_run_id = $1`, oldRun); n != storedAtCut {
		t.Errorf("the old run stored %d devices after the cut", n-storedAtCut)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM device_changes WHERE run_id = $1`, oldRun); n != historyAtCut {
		t.Errorf("the old run wrote %d history rows after the cut", n-historyAtCut)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM run_leases WHERE run_id = $1`, newRun); n != 1 {
		t.Errorf("the new run (%d) no longer holds the scope", newRun)
	}
	select {
	case <-next.done:
		t.Errorf("the new run ended while its requests stall: exit %d\n%s", next.code, next.stderr)
	default:
	}
	t.Logf("old run %d stored %d devices before the cut; new run %d", oldRun, storedAtCut, newRun)
}

// assertStoredOnce checks that the fleet's devices are each stored once by
// one successful run: all ok, the run's counts match, and no field has two
// history rows (a first sync writes one per field that has a value).
func assertStoredOnce(t *testing.T, db string, fleet int) {
	t.Helper()
	if n := queryInt(t, db, `SELECT count(*) FROM devices WHERE sync_status = 'ok'`); n != fleet {
		t.Errorf("%d of %d devices ok", n, fleet)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sync_runs WHERE status = 'succeeded' AND devices_ok = $1`, fleet); n != 1 {
		t.Errorf("%d succeeded runs that stored the %d devices, want 1", n, fleet)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM sync_runs WHERE status <> 'succeeded'`); n != 0 {
		t.Errorf("%d runs that did not succeed", n)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM (SELECT device_id, field FROM device_changes GROUP BY 1, 2 HAVING count(*) > 1) d`); n != 0 {
		t.Errorf("%d fields with more than one history row", n)
	}
	if n := queryInt(t, db, `SELECT count(DISTINCT device_id) FROM device_changes`); n != fleet {
		t.Errorf("history for %d of %d devices", n, fleet)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM run_leases`); n != 0 {
		t.Errorf("%d leases left after the run", n)
	}
}

func connect(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", "wxc-test")
	u.RawQuery = q.Encode()
	c, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// cutProxy forwards TCP connections to a database server until it is cut:
// then it ends every connection and refuses new ones (closing them at
// once), as a network cut would, until it is restored.
type cutProxy struct {
	url    string // the database's URL, through the proxy
	target string

	mu     sync.Mutex
	isCut  bool
	conns  map[net.Conn]bool
	closed bool
}

func newCutProxy(t *testing.T, db string) *cutProxy {
	t.Helper()
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{target: u.Host, conns: map[net.Conn]bool{}}
	u.Host = l.Addr().String()
	p.url = u.String()
	go p.serve(l)
	t.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		l.Close()
		p.cut()
	})
	return p
}

func (p *cutProxy) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.isCut || p.closed {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = false
}
