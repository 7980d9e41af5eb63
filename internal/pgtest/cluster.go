package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clusterDirPrefix names the temporary directories of throwaway clusters, so
// that a later run can find the ones whose test process died before Main ran.
const clusterDirPrefix = "wxc-pgtest-"

// cluster is a throwaway PostgreSQL cluster in a temporary directory.
type cluster struct {
	initdb, pgctl string
	dir           string              // holds data/, sock/, postgres.log and owner.pid
	cred          *syscall.Credential // the postgres user's, when running as root; else nil
}

// startCluster builds and starts a throwaway cluster from local binaries.
func startCluster(ctx context.Context) (*server, error) {
	initdb, pgctl, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &cluster{initdb: initdb, pgctl: pgctl}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root, and tests run as root on
		// the dev machines and in CI.
		if c.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	c.sweepStale()
	if c.dir, err = os.MkdirTemp("", clusterDirPrefix); err != nil {
		return nil, fmt.Errorf("make cluster directory: %w", err)
	}
	port, err := c.start(ctx)
	if err != nil {
		return nil, errors.Join(err, c.stop())
	}
	return &server{
		url:  fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		desc: fmt.Sprintf("throwaway cluster from %s on 127.0.0.1:%d in %s", filepath.Dir(initdb), port, c.dir),
		stop: c.stop,
	}, nil
}

func (c *cluster) start(ctx context.Context) (int, error) {
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
		// is deleted after the tests. pg_ctl hands -o to a shell, hence the
		// quoting of the socket path.
		opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
			shellQuote(sock), port)
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

// stop stops the server, if it runs, and removes the directory.
func (c *cluster) stop() error {
	var errs []error
	data := filepath.Join(c.dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		// Immediate: there is nothing to save.
		if out, err := c.run(ctx, c.pgctl, "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
			errs = append(errs, fmt.Errorf("pg_ctl stop: %w\n%s", err, out))
		}
		cancel()
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove cluster directory: %w", err))
	}
	return errors.Join(errs...)
}

// sweepStale stops and removes the clusters of test processes that died
// without running Main (a -timeout panic, a ^C): pg_ctl detaches the server
// from its parent, so nothing else would stop them.
func (c *cluster) sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), clusterDirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue // being set up right now, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // its owner is alive
		}
		stale := *c
		stale.dir = dir
		_ = stale.stop() // best effort: the next run tries again
	}
}

// run runs a PostgreSQL binary, as the postgres user when c.cred is set.
func (c *cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir // the postgres user may not be able to enter the test's working directory
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl's server redirects its output to the log file, but should a
	// child keep the pipe open, do not wait on it forever.
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

func (c *cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return string(b)
}

// findBinaries finds initdb and pg_ctl of one installation: on PATH first,
// then the highest version under /usr/lib/postgresql (Debian and Ubuntu keep
// them there, off PATH).
func findBinaries() (initdb, pgctl string, err error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		// Follow symlinks to the real installation and prefer the pg_ctl
		// beside it there: the versions must match.
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			initdb = real
		}
		if pgctl := filepath.Join(filepath.Dir(initdb), "pg_ctl"); isExecutable(pgctl) {
			return initdb, pgctl, nil
		}
		if pgctl, err := exec.LookPath("pg_ctl"); err == nil {
			return initdb, pgctl, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = slices.DeleteFunc(dirs, func(d string) bool {
		return !isExecutable(filepath.Join(d, "initdb")) || !isExecutable(filepath.Join(d, "pg_ctl"))
	})
	if len(dirs) == 0 {
		return "", "", fmt.Errorf("%w: no initdb and pg_ctl on PATH or under /usr/lib/postgresql/*/bin", errUnavailable)
	}
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b)))
	})
	best := dirs[len(dirs)-1]
	return filepath.Join(best, "initdb"), filepath.Join(best, "pg_ctl"), nil
}

// compareVersions orders "9.6" < "10" < "15" numerically, part by part.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var na, nb int
		if i < len(pa) {
			na, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			nb, _ = strconv.Atoi(pb[i])
		}
		if na != nb {
			return na - nb
		}
	}
	return 0
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
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
