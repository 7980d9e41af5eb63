package store_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// TestOpenSetsSessionDefaultsOnlyWhereUnset checks that the job names its
// sessions and bounds statements and lock waits, unless the connection
// string says otherwise.
func TestOpenSetsSessionDefaultsOnlyWhereUnset(t *testing.T) {
	t.Parallel()
	base := pgtest.DBURL(t)
	with := func(q string) string {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.RawQuery = q
		return u.String()
	}
	tests := []struct {
		name string
		url  string
		want [3]string // application_name, statement_timeout, lock_timeout
		// statement_timeout of the migrations: the job's default does not
		// apply to them, the user's does.
		wantMigration string
	}{
		{"defaults", base, [3]string{"wxc-sync", "2min", "30s"}, "0"},
		{"user parameters", with("application_name=ops&statement_timeout=1234&lock_timeout=5s"), [3]string{"ops", "1234ms", "5s"}, "1234ms"},
		{"user options", with("options=-c%20statement_timeout%3D7s"), [3]string{"wxc-sync", "7s", "30s"}, "7s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(context.Background(), tt.url, store.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var got [3]string
			if err := st.Pool().QueryRow(context.Background(),
				"SELECT current_setting('application_name'), current_setting('statement_timeout'), current_setting('lock_timeout')",
			).Scan(&got[0], &got[1], &got[2]); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("session settings = %q, want %q", got, tt.want)
			}
			// Migrations are not cut short by the job's own default.
			mp, err := st.MigrationPool(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer mp.Close()
			var mig string
			if err := mp.QueryRow(context.Background(), "SELECT current_setting('statement_timeout')").Scan(&mig); err != nil {
				t.Fatal(err)
			}
			if mig != tt.wantMigration {
				t.Errorf("migrations run with statement_timeout %s, want %s", mig, tt.wantMigration)
			}
		})
	}
}

// TestParseConfigBoundsConnect checks that a connection attempt has a limit
// unless the user chose one.
func TestParseConfigBoundsConnect(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]string{
		"postgres://u@127.0.0.1/db":                   store.DefaultConnectTimeout.String(),
		"postgres://u@127.0.0.1/db?connect_timeout=3": "3s",
	} {
		cfg, err := store.ParseConfig(u)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.ConnConfig.ConnectTimeout.String(); got != want {
			t.Errorf("%s: connect timeout %s, want %s", u, got, want)
		}
	}
}

// TestOpenWaitsForAServerThatIsStarting opens a port where nothing listens
// yet, as when the database container is still starting, and starts the
// "server" (a proxy to the real one) only after Open has failed once: Open
// retries and succeeds.
func TestOpenWaitsForAServerThatIsStarting(t *testing.T) {
	t.Parallel()
	target := pgtest.DBURL(t)
	tu, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused

	failed := make(chan struct{})
	var once sync.Once
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		if strings.Contains(string(p), "retrying") {
			once.Do(func() { close(failed) })
		}
		return len(p), nil
	}), nil))
	go func() {
		<-failed
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
			return
		}
		t.Cleanup(func() { l.Close() })
		proxy(l, tu.Host)
	}()
	u := *tu
	u.Host = addr
	st, err := store.Open(context.Background(), u.String(), store.OpenOptions{Logger: log})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer st.Close()
	select {
	case <-failed:
	default:
		t.Error("Open succeeded without a failed first attempt: the test proves nothing")
	}
}

// TestOpenFailsAtOnceOnWhatRetriesCannotFix checks that a database that does
// not exist is not retried.
func TestOpenFailsAtOnceOnWhatRetriesCannotFix(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.DBURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database_here"
	retries := 0
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		retries++
		return len(p), nil
	}), nil))
	_, err = store.Open(context.Background(), u.String(), store.OpenOptions{Logger: log})
	if err == nil || !strings.Contains(err.Error(), "no_such_database_here") {
		t.Fatalf("Open: %v, want a missing database error", err)
	}
	if retries != 0 {
		t.Errorf("a missing database was retried %d times", retries)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// proxy forwards every connection accepted on l to target until l closes.
func proxy(l net.Listener, target string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer up.Close()
			go func() { _, _ = io.Copy(up, c) }()
			_, _ = io.Copy(c, up)
		}()
	}
}
