package store

import (
	"context"
	"fmt"

	"github.com/wxc-inventory/wxc-sync/internal/dbsqlc"
)

// What "wxc-sync check" asks the database (queries/check.sql).

// Identity is who the store talks to.
type Identity struct {
	ServerVersion, Role, Database string
}

// Identity reads the server's version, the role and the database.
func (s *Store) Identity(ctx context.Context) (Identity, error) {
	r, err := dbsqlc.New(s.pool).ServerIdentity(ctx)
	if err != nil {
		return Identity{}, err
	}
	return Identity{ServerVersion: r.ServerVersion, Role: r.RoleName, Database: r.DatabaseName}, nil
}

// TrackedSample is how many devices are tracked, and the ID of one of them
// ("" when none is).
func (s *Store) TrackedSample(ctx context.Context) (int, string, error) {
	r, err := dbsqlc.New(s.pool).TrackedSample(ctx)
	if err != nil {
		return 0, "", err
	}
	return int(r.Tracked), r.SampleID, nil
}

// Grant is a privilege on a table or view ("UPDATE" on "devices").
type Grant struct {
	Table, Privilege string
}

// LackedGrants returns, of grants, those the connected role does not hold
// (in the order given), and the tables or views that do not exist yet.
func (s *Store) LackedGrants(ctx context.Context, grants []Grant) (lacked []Grant, absent []string, err error) {
	tables, privs := make([]string, len(grants)), make([]string, len(grants))
	for i, g := range grants {
		tables[i], privs[i] = g.Table, g.Privilege
	}
	rows, err := dbsqlc.New(s.pool).LackedPrivileges(ctx, tables, privs)
	if err != nil {
		return nil, nil, fmt.Errorf("check privileges: %w", err)
	}
	missing := map[Grant]bool{}
	seenAbsent := map[string]bool{}
	for _, r := range rows {
		if !r.Present {
			if !seenAbsent[r.TableName] {
				seenAbsent[r.TableName] = true
				absent = append(absent, r.TableName)
			}
			continue
		}
		missing[Grant{r.TableName, r.Privilege}] = true
	}
	for _, g := range grants {
		if missing[g] {
			lacked = append(lacked, g)
		}
	}
	return lacked, absent, nil
}
