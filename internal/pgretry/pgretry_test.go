package pgretry_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxc-inventory/wxc-sync/internal/pgretry"
	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestTransient classifies errors that a real PostgreSQL and pgx
// produce: only those a second attempt may not meet are retried.
func TestTransient(t *testing.T) {
	t.Parallel()
	url := pgtest.DBURL(t)
	ctx := context.Background()
	connect := func(t *testing.T) *pgx.Conn {
		t.Helper()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	var n int
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want bool
	}{
		{"no rows", func(t *testing.T) error {
			return connect(t).QueryRow(ctx, "SELECT 1 WHERE false").Scan(&n)
		}, false},
		{"scan error", func(t *testing.T) error {
			return connect(t).QueryRow(ctx, "SELECT 'text'").Scan(&n)
		}, false},
		{"encode error", func(t *testing.T) error {
			_, err := connect(t).Exec(ctx, "SELECT $1::int", struct{ X chan int }{})
			return err
		}, false},
		{"syntax error", func(t *testing.T) error {
			_, err := connect(t).Exec(ctx, "SELEC 1")
			return err
		}, false},
		{"unique violation", func(t *testing.T) error {
			_, err := connect(t).Exec(ctx, "INSERT INTO devices (device_id) VALUES ('a'), ('a')")
			return err
		}, false},
		{"statement timeout", func(t *testing.T) error {
			c := connect(t)
			if _, err := c.Exec(ctx, "SET statement_timeout = 10"); err != nil {
				t.Fatal(err)
			}
			_, err := c.Exec(ctx, "SELECT pg_sleep(5)")
			return err
		}, false},
		{"context cancelled", func(t *testing.T) error {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := connect(t).Exec(cctx, "SELECT 1")
			return err
		}, false},
		{"backend terminated", func(t *testing.T) error {
			c := connect(t)
			if _, err := connect(t).Exec(ctx, "SELECT pg_terminate_backend($1)", c.PgConn().PID()); err != nil {
				t.Fatal(err)
			}
			_, err := c.Exec(ctx, "SELECT 1")
			return err
		}, true},
		{"idle_session_timeout", func(t *testing.T) error {
			c := connect(t)
			if _, err := c.Exec(ctx, "SET idle_session_timeout = 50"); err != nil {
				t.Fatal(err)
			}
			waitGone(t, connect(t), c.PgConn().PID())
			_, err := c.Exec(ctx, "SELECT 1")
			return err
		}, true},
		{"closed connection", func(t *testing.T) error {
			c := connect(t)
			c.Close(ctx)
			_, err := c.Exec(ctx, "SELECT 1")
			return err
		}, true},
		{"connection refused", func(t *testing.T) error {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			_, err = pgx.Connect(ctx, "postgres://u@"+addr+"/db?connect_timeout=5")
			return err
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			if err == nil {
				t.Fatal("no error")
			}
			if got := pgretry.Transient(err); got != tt.want {
				t.Errorf("Transient(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

// waitGone waits until the backend pid has ended.
func waitGone(t *testing.T, c *pgx.Conn, pid uint32) {
	t.Helper()
	for {
		var alive bool
		if err := c.QueryRow(context.Background(), "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)", pid).Scan(&alive); err != nil {
			t.Fatal(err)
		}
		if !alive {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDoRetriesOnlyLostConnections(t *testing.T) {
	t.Parallel()
	lost := &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}
	tests := []struct {
		name      string
		errs      []error // returned by successive calls; then nil
		wantCalls int
		wantErr   error
	}{
		{"success", nil, 1, nil},
		{"no rows is final", []error{pgx.ErrNoRows}, 1, pgx.ErrNoRows},
		{"lost once", []error{lost}, 2, nil},
		{"lost every time", []error{lost, lost, lost, lost, lost}, 3, lost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := pgretry.Do(context.Background(), pgretry.Policy{Tries: 3, Wait: time.Millisecond}, func(context.Context) error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDoKeepsTheCauseWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	lost := &pgconn.PgError{Code: "08006"}
	err := pgretry.Do(ctx, pgretry.Policy{Tries: 10, Wait: time.Hour}, func(context.Context) error {
		cancel()
		return lost
	})
	if !errors.Is(err, lost) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want both the last error and the cancellation", err)
	}
}
