package localpg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PgBouncer is a throwaway PgBouncer in front of a PostgreSQL server, from
// the pgbouncer binary installed on this machine (Debian's package), for
// tests of the job through a connection pooler.
type PgBouncer struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// PgBouncerOptions shape a PgBouncer; the zero value is transaction
// pooling that refuses startup parameters it does not know, as PgBouncer
// does out of the box.
type PgBouncerOptions struct {
	PoolMode string // transaction (default), session or statement
	// IgnoreStartupParameters are accepted from clients and dropped
	// (ignore_startup_parameters), as some deployments configure.
	IgnoreStartupParameters []string
}

// PgBouncerAvailable reports where the pgbouncer binary is: on PATH, or in
// /usr/sbin, where Debian puts it.
func PgBouncerAvailable() (string, error) {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	const debian = "/usr/sbin/pgbouncer"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", errors.New("no pgbouncer on PATH or in /usr/sbin (Debian and Ubuntu: apt-get install pgbouncer)")
}

// StartPgBouncer starts a PgBouncer on a free loopback port that forwards
// every database to the server of upstream (a postgres:// URL), logging in
// to it as upstream's user, whatever user a client names. It runs as the
// postgres user when the process runs as root (PgBouncer refuses root) and
// dies with this process.
func StartPgBouncer(ctx context.Context, upstream string, o PgBouncerOptions) (*PgBouncer, error) {
	bin, err := PgBouncerAvailable()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(upstream)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("pgbouncer upstream: want a postgres:// URL with a host")
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	server := fmt.Sprintf("host=%s port=%s user=%s", u.Hostname(), port, u.User.Username())
	if pw, ok := u.User.Password(); ok {
		server += " password=" + pw
	}
	if o.PoolMode == "" {
		o.PoolMode = "transaction"
	}
	b := &PgBouncer{done: make(chan struct{})}
	if b.dir, err = os.MkdirTemp("", "wxc-pgbouncer-"); err != nil {
		return nil, fmt.Errorf("make pgbouncer directory: %w", err)
	}
	if b.port, err = freePort(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(b.dir))
	}
	ignore := append([]string{"extra_float_digits"}, o.IgnoreStartupParameters...)
	ini := fmt.Sprintf(`[databases]
* = %s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = any
pool_mode = %s
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = %s
logfile = %s
pidfile = %s
`, server, b.port, o.PoolMode, strings.Join(ignore, ","), filepath.Join(b.dir, "pgbouncer.log"), filepath.Join(b.dir, "pgbouncer.pid"))
	if err := os.WriteFile(filepath.Join(b.dir, "pgbouncer.ini"), []byte(ini), 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("write pgbouncer.ini: %w", err), os.RemoveAll(b.dir))
	}
	b.cmd = exec.Command(bin, filepath.Join(b.dir, "pgbouncer.ini"))
	b.cmd.Dir = b.dir
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 {
		cred, err := postgresUser()
		if err != nil {
			return nil, errors.Join(err, os.RemoveAll(b.dir))
		}
		for _, name := range []string{"", "pgbouncer.ini"} {
			if err := os.Chown(filepath.Join(b.dir, name), int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, errors.Join(fmt.Errorf("hand the pgbouncer directory to the postgres user: %w", err), os.RemoveAll(b.dir))
			}
		}
		attr.Credential = cred
	}
	b.cmd.SysProcAttr = attr
	if err := b.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start pgbouncer: %w", err), os.RemoveAll(b.dir))
	}
	go func() {
		_ = b.cmd.Wait()
		close(b.done)
	}()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return b, nil
		}
		select {
		case <-b.done:
			log, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
			return nil, errors.Join(fmt.Errorf("pgbouncer exited at start:\n%s", log), os.RemoveAll(b.dir))
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("pgbouncer not listening: %w", ctx.Err()), b.Stop())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URL is dbURL (a postgres:// URL) through the PgBouncer: its user,
// password and database, the PgBouncer's address, no TLS.
func (b *PgBouncer) URL(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Stop ends the PgBouncer and removes its directory.
func (b *PgBouncer) Stop() error {
	_ = b.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	return os.RemoveAll(b.dir)
}
