package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxc-inventory/wxc-sync/internal/localpg"
	"github.com/wxc-inventory/wxc-sync/internal/pgadmin"
	"github.com/wxc-inventory/wxc-sync/internal/store"
)

// DefaultDatabaseName is the demo's own database: it never touches any other.
const DefaultDatabaseName = "wxc_sync_demo"

// ComposeServerURL reaches the database of docker-compose.yml's db service
// from the host. Its port is not 5432, which a local PostgreSQL holds.
const ComposeServerURL = "postgres://postgres:postgres@127.0.0.1:55432/postgres"

const (
	originURL       = "DATABASE_URL"
	originLocal     = "the local server libpq's defaults reach"
	originThrowaway = "a throwaway cluster from the local PostgreSQL binaries"
)

type demoDB struct {
	st         *store.Store
	origin     string
	displayURL string // no password
	psqlURL    string // for the user to paste; no password (they have it, or it is trust)
	kept       string // the command that stops a kept throwaway cluster
	cluster    *localpg.Cluster
}

func (d *demoDB) close() {
	d.st.Close()
	if d.cluster != nil && d.kept == "" {
		d.cluster.Stop()
	}
}

// openDemoDatabase finds a server, in the order the README gives, and
// (re)creates the demo database on it.
func openDemoDatabase(ctx context.Context, databaseURL, dbName string, keep bool, log *slog.Logger) (*demoDB, error) {
	var tried []string
	if databaseURL != "" {
		cfg, err := store.ParseConfig(databaseURL)
		if err != nil {
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		d, err := createOn(ctx, databaseURL, dbName, originURL)
		if err != nil {
			return nil, fmt.Errorf("create the demo database on %s: %w", store.Describe(cfg.ConnConfig.Config), err)
		}
		return d, nil
	}

	if cfg, err := pgx.ParseConfig(""); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		d, err := createOn(cctx, "", dbName, originLocal)
		cancel()
		if err == nil {
			return d, nil
		}
		log.Debug("no usable local server", slog.String("error", err.Error()))
		tried = append(tried, fmt.Sprintf("the local server at %s (%v)", store.Describe(cfg.Config), shortErr(err)))
	}

	if _, err := localpg.Available(); err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner // the advice is given once, below
		}
		tried = append(tried, err.Error())
	} else {
		c, err := localpg.Start(ctx)
		if err != nil {
			tried = append(tried, "a throwaway cluster: "+err.Error())
		} else {
			d, err := createOn(ctx, c.URL(), dbName, originThrowaway)
			if err == nil {
				d.cluster = c
				if keep {
					if d.kept, err = c.Detach(); err != nil {
						d.close()
						return nil, err
					}
				}
				return d, nil
			}
			c.Stop()
			tried = append(tried, "a throwaway cluster: "+err.Error())
		}
	}
	msg := "the demo needs PostgreSQL; tried:\n"
	for _, t := range tried {
		msg += "  - " + strings.ReplaceAll(t, "\n", "\n    ") + "\n"
	}
	msg += "Start one with `docker compose up -d db` and run again with DATABASE_URL=" + ComposeServerURL + ",\nor install the PostgreSQL server package (e.g. apt-get install postgresql)."
	return nil, fmt.Errorf("%w: %s", ErrNoDatabase, msg)
}

// createOn drops and creates the demo database on the server dsn reaches,
// then opens the store on it.
func createOn(ctx context.Context, dsn, dbName, origin string) (*demoDB, error) {
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = admin.Close(cctx)
	}()
	if err := pgadmin.DropDatabase(ctx, admin, dbName); err != nil {
		return nil, err
	}
	if err := pgadmin.CreateDatabase(ctx, admin, dbName, ""); err != nil {
		return nil, err
	}
	demoDSN, err := pgadmin.WithDatabase(dsn, dbName)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, demoDSN, store.OpenOptions{})
	if err != nil {
		return nil, err
	}
	c := st.ConnConfig()
	return &demoDB{st: st, origin: origin, displayURL: store.Describe(c), psqlURL: psqlURL(c)}, nil
}

// psqlURL is a connection URL without the password, for the user to paste.
func psqlURL(c pgconn.Config) string {
	u := url.URL{Scheme: "postgres", User: url.User(c.User), Path: "/" + c.Database}
	if len(c.Host) > 0 && c.Host[0] == '/' {
		u.RawQuery = url.Values{"host": {c.Host}, "port": {fmt.Sprint(c.Port)}}.Encode()
	} else {
		u.Host = fmt.Sprintf("%s:%d", c.Host, c.Port)
	}
	return u.String()
}

func shortErr(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return "could not connect"
	}
	return err.Error()
}
