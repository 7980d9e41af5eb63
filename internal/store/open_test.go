package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
			err = st.ReadOnly(context.Background(), func(db store.Reader) error {
				rows, err := db.Query(context.Background(),
					"SELECT current_setting('application_name'), current_setting('statement_timeout'), current_setting('lock_timeout')")
				if err != nil {
					return err
				}
				got, err = pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (v [3]string, err error) {
					return v, r.Scan(&v[0], &v[1], &v[2])
				})
				return err
			})
			if err != nil {
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

// TestOpenFailsAtOnceOnWhatRetriesCannotFix: a server that refuses the
// connection for good (a missing database or role, a rejected password, an
// untrusted certificate) is not retried as "not reachable": Open fails at
// once, naming the cause. ConnectWithin is an hour, so a retry would show as
// the context's deadline instead.
func TestOpenFailsAtOnceOnWhatRetriesCannotFix(t *testing.T) {
	t.Parallel()
	shared, err := url.Parse(pgtest.DBURL(t))
	if err != nil {
		t.Fatal(err)
	}
	private := refusingServer(t)
	with := func(base *url.URL, f func(u *url.URL)) string {
		u := *base
		f(&u)
		return u.String()
	}
	tests := []struct {
		name, url string
		want      []string // in the error
	}{
		{"database does not exist", with(shared, func(u *url.URL) { u.Path = "/no_such_database_here" }),
			[]string{"the database does not exist", "no_such_database_here", "3D000"}},
		{"role does not exist", with(shared, func(u *url.URL) { u.User = url.User("no_such_role_here") }),
			[]string{"the server refused the role", "no_such_role_here", "28000"}},
		{"password rejected", with(private.tcp, func(u *url.URL) { u.User = url.UserPassword("wxc_pw", "wrong-password") }),
			[]string{"the server rejected the password", "28P01"}},
		{"certificate not trusted", with(private.tcp, func(u *url.URL) {
			u.User = url.UserPassword("wxc_pw", "right-password")
			u.RawQuery = url.Values{"sslmode": {"verify-full"}, "sslrootcert": {private.otherCA}}.Encode()
		}), []string{"TLS certificate is not trusted", "x509"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var retries atomic.Int32
			log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
				retries.Add(1)
				return len(p), nil
			}), nil))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := store.Open(ctx, tt.url, store.OpenOptions{Logger: log, ConnectWithin: time.Hour})
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "not reachable") || strings.ContainsAny(err.Error(), "\n\t") || strings.Contains(err.Error(), "password=") {
				t.Errorf("error %q: want one line naming the refusal, no password", err)
			}
			if n := retries.Load(); n != 0 {
				t.Errorf("retried %d times", n)
			}
		})
	}
	// The same server and role, told the right password and the right CA,
	// take the connection: the refusals above were the ones named.
	ok := with(private.tcp, func(u *url.URL) {
		u.User = url.UserPassword("wxc_pw", "right-password")
		u.RawQuery = url.Values{"sslmode": {"verify-full"}, "sslrootcert": {private.ca}}.Encode()
	})
	st, err := store.Open(context.Background(), ok, store.OpenOptions{})
	if err != nil {
		t.Fatalf("the right password and CA: %v", err)
	}
	st.Close()
}

// refusing is a private server that asks role wxc_pw for its password
// (right-password) and serves TLS with a certificate for localhost and
// 127.0.0.1 signed by ca; otherCA is a CA that did not sign it.
type refusing struct {
	tcp         *url.URL
	ca, otherCA string // PEM files
}

func refusingServer(t *testing.T) refusing {
	t.Helper()
	c := pgtest.PrivateServer(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Exec(ctx, "CREATE ROLE wxc_pw LOGIN PASSWORD 'right-password'")
	admin.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caCert, caKey := newCA(t, "wxc test CA")
	other, _ := newCA(t, "another CA")
	serverCert, serverKey := newServerCert(t, caCert, caKey)
	r := refusing{ca: writePEM(t, dir, "ca.crt", "CERTIFICATE", caCert.Raw), otherCA: writePEM(t, dir, "other.crt", "CERTIFICATE", other.Raw)}
	err = c.Reconfigure(ctx, map[string]string{
		"pg_hba.conf": "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
		"server.crt":  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverCert})),
		"server.key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: serverKey})),
	}, "ssl = on")
	if err != nil {
		t.Fatal(err)
	}
	if r.tcp, err = url.Parse(c.URL()); err != nil {
		t.Fatal(err)
	}
	r.tcp.RawQuery = ""
	return r
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// newServerCert returns a certificate for localhost and 127.0.0.1 signed by
// ca, and its key, both DER.
func newServerCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if cert, err = x509.CreateCertificate(rand.Reader, tpl, ca, &k.PublicKey, caKey); err != nil {
		t.Fatal(err)
	}
	if key, err = x509.MarshalPKCS8PrivateKey(k); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
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
