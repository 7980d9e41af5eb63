// Package localpg starts a throwaway PostgreSQL cluster from the PostgreSQL
// binaries installed on this machine, and a PgBouncer in front of a server
// from the pgbouncer binary.
//
// The cluster lives in a new temporary directory, listens on 127.0.0.1 at a
// free port with trust authentication, and runs with fsync and its friends
// off: it is for demos and tests, and holds nothing worth keeping. Stop
// removes it. A cluster whose owning process died without calling Stop (a
// panic, a ^C) is stopped and removed by the next Start on the machine.
package localpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// dirPrefix names the temporary directories of throwaway clusters, so that a
// later Start can find the ones whose owner died before calling Stop.
const dirPrefix = "wxc-localpg-"

// legacyDirPrefixes are the prefixes that earlier versions gave their cluster
// directories (internal/pgtest before this package); Start sweeps them too.
var legacyDirPrefixes = []string{"wxc-pgtest-"}

// Cluster is a running throwaway PostgreSQL cluster in a temporary directory.
type Cluster struct {
	initdb, pgctl string
	dir           string              // holds data/, sock/, postgres.log and owner.pid
	cred          *syscall.Credential // the postgres user's, when running as root; else nil
	port          int
	settings      []string // extra server settings, name=value

	mu      sync.Mutex
	stopped bool
}

// Start creates and starts a cluster in a new temporary directory: initdb -A
// trust -U postgres --no-sync -E UTF8 --locale=C, then a server listening on
// 127.0.0.1 at a free port, with its Unix socket in a private directory and
// fsync, synchronous_commit and full_page_writes off. When the process runs
// as root, which initdb and postgres refuse, it runs them as the postgres OS
// user and hands the directory to that user.
//
// Start first stops and removes the clusters of processes that died without
// calling Stop. ctx bounds initdb and the server's start-up. Each of
// settings, "name=value", is passed to the server after those defaults and
// overrides them (a benchmark of WAL volume wants full_page_writes=on).
func Start(ctx context.Context, settings ...string) (*Cluster, error) {
	initdb, pgctl, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{initdb: initdb, pgctl: pgctl, settings: settings}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	c.sweepStale()
	if c.dir, err = os.MkdirTemp("", dirPrefix); err != nil {
		return nil, fmt.Errorf("make cluster directory: %w", err)
	}
	if c.port, err = c.start(ctx); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

// URL is a connection string for the superuser postgres on database postgres.
// It holds no password: authentication is trust, on the loopback address only.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Stop stops the server (pg_ctl stop -m fast) and removes the temporary
// directory. It is safe to call more than once, and from several goroutines;
// the calls after the first do nothing and return nil.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	return c.stopAndRemove("fast")
}

// Available reports whether initdb and pg_ctl were found, and where: binDir
// is the directory of initdb (pg_ctl is taken from beside it when it is
// there, since the versions must match). Both are looked for on PATH first,
// then in the highest version under /usr/lib/postgresql/*/bin, where Debian
// and Ubuntu keep them off PATH.
//
// The error says what was searched and how to fix it. errors.Unwrap of it
// gives what was searched alone, for callers that give their own advice.
func Available() (binDir string, err error) {
	initdb, _, err := findBinaries()
	if err != nil {
		return "", err
	}
	return filepath.Dir(initdb), nil
}

func (c *Cluster) start(ctx context.Context) (int, error) {
	if err := os.WriteFile(filepath.Join(c.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return 0, fmt.Errorf("write owner pid: %w", err)
	}
	sock := filepath.Join(c.dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return 0, fmt.Errorf("make socket directory: %w", err)
	}
	if c.cred != nil {
		for _, d := range []string{c.dir, sock} {
			if err := os.Chown(d, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				return 0, fmt.Errorf("hand %s to the postgres user: %w", d, err)
			}
		}
	}
	data := filepath.Join(c.dir, "data")
	// Locale C: the same collation on every machine, whatever locales it has.
	if out, err := c.run(ctx, c.initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		return 0, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// Another process may take the free port between our look and the
	// server's bind; a fresh port usually settles it.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return 0, err
		}
		// fsync and friends off: durability buys nothing in a cluster that
		// is deleted afterwards. pg_ctl hands -o to a shell, hence the
		// quoting of the socket path.
		opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
			shellQuote(sock), port)
		for _, kv := range c.settings {
			opts += " -c " + shellQuote(kv)
		}
		out, err := c.run(ctx, c.pgctl, "-D", data, "-l", filepath.Join(c.dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			return port, nil
		}
		logTail := c.logTail()
		lastErr = fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, logTail)
		if !strings.Contains(logTail, "already in use") {
			break
		}
	}
	return 0, lastErr
}

// stopAndRemove stops the server, if it runs, with the given pg_ctl shutdown
// mode, and removes the directory.
func (c *Cluster) stopAndRemove(mode string) error {
	var errs []error
	data := filepath.Join(c.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if out, err := c.run(ctx, c.pgctl, "-D", data, "-m", mode, "-w", "stop"); err != nil {
			errs = append(errs, fmt.Errorf("pg_ctl stop: %w\n%s", err, out))
		}
		cancel()
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove cluster directory: %w", err))
	}
	return errors.Join(errs...)
}

// sweepStale stops and removes the clusters of processes that died without
// calling Stop: pg_ctl detaches the server from its parent, so nothing else
// would stop them.
func (c *Cluster) sweepStale() {
	var dirs []string
	for _, prefix := range append([]string{dirPrefix}, legacyDirPrefixes...) {
		matches, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
		dirs = append(dirs, matches...)
	}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue // being set up right now, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // its owner is alive
		}
		stale := &Cluster{initdb: c.initdb, pgctl: c.pgctl, cred: c.cred, dir: dir}
		// Immediate: its owner is gone, there is nothing to save. Best
		// effort: the next Start tries again.
		_ = stale.stopAndRemove("immediate")
	}
}

// Detach leaves the cluster running after this process exits, for a user
// to explore, and returns the command that stops it and removes its files.
// A detached cluster is no longer swept as stale.
func (c *Cluster) Detach() (stopCommand string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.Remove(filepath.Join(c.dir, "owner.pid")); err != nil {
		return "", fmt.Errorf("detach cluster: %w", err)
	}
	c.stopped = true // Stop is now the user's to run
	stop := fmt.Sprintf("%s -D %s stop -m fast && rm -rf %s", c.pgctl, shellQuote(filepath.Join(c.dir, "data")), shellQuote(c.dir))
	if c.cred != nil {
		stop = "su postgres -s /bin/sh -c " + shellQuote(fmt.Sprintf("%s -D %s stop -m fast", c.pgctl, filepath.Join(c.dir, "data"))) + " && rm -rf " + shellQuote(c.dir)
	}
	return stop, nil
}

// run runs a PostgreSQL binary, as the postgres user when c.cred is set.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir // the postgres user may not be able to enter the caller's working directory
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl's server redirects its output to the log file, but should a
	// child keep the pipe open, do not wait on it forever.
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return string(b)
}

// postgresUser returns the credential of the postgres system user.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and initdb refuses root, but there is no postgres user to run it as (%v); create one: useradd --system postgres", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort asks the kernel for a free TCP port on the loopback address.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Reconfigure writes files into the cluster's data directory (pg_hba.conf,
// server.crt and server.key, say), readable by the server alone, appends
// settings ("name = value" lines) to postgresql.conf, and restarts the
// server with them (a reload would be asynchronous: a test could not tell
// when it took effect). For tests of what a real server's authentication
// and TLS refuse.
func (c *Cluster) Reconfigure(ctx context.Context, files map[string]string, settings ...string) error {
	data := filepath.Join(c.dir, "data")
	for name, content := range files {
		path := filepath.Join(data, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if c.cred != nil {
			if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				return fmt.Errorf("hand %s to the postgres user: %w", name, err)
			}
		}
	}
	if len(settings) > 0 {
		f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("open postgresql.conf: %w", err)
		}
		_, err = f.WriteString("\n" + strings.Join(settings, "\n") + "\n")
		if err = errors.Join(err, f.Close()); err != nil {
			return fmt.Errorf("write postgresql.conf: %w", err)
		}
	}
	return c.Restart(ctx)
}

// Restart restarts the server as an operator or a fail-over would: pg_ctl
// restart -m fast ends every session (their transactions roll back), and
// the server comes back on the same port with the same settings.
func (c *Cluster) Restart(ctx context.Context) error {
	data := filepath.Join(c.dir, "data")
	if out, err := c.run(ctx, c.pgctl, "-D", data, "-l", filepath.Join(c.dir, "postgres.log"), "-m", "fast", "-w", "-t", "60", "restart"); err != nil {
		return fmt.Errorf("pg_ctl restart: %w\n%s\n%s", err, out, c.logTail())
	}
	return nil
}
