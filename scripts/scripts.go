// Package scripts holds the SQL scripts operators run with psql; the job
// embeds the least-privilege grants so that "wxc-sync check" tests a role
// against the very list an operator applies.
package scripts

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// LeastPrivilege is least-privilege.sql: the grants "run --no-migrate" needs.
//
//go:embed least-privilege.sql
var LeastPrivilege string

// Grant is one privilege on one table or view.
type Grant struct {
	Table     string
	Privilege string // SELECT, INSERT, UPDATE, DELETE
}

var grantStatement = regexp.MustCompile(`(?is)^GRANT\s+(.+?)\s+ON\s+(?:TABLE\s+)?(.+?)\s+TO\s+:"role"$`)

// Grants is what least-privilege.sql grants, statement by statement, in
// its order. The file holds psql meta-commands, comments and GRANT
// statements only; anything else is an error, so that the list cannot
// silently miss a statement.
func Grants() ([]Grant, error) {
	var sql strings.Builder
	for _, line := range strings.Split(LeastPrivilege, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, `\`) {
			continue
		}
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		sql.WriteString(line + "\n")
	}
	var out []Grant
	for _, stmt := range strings.Split(sql.String(), ";") {
		stmt = strings.Join(strings.Fields(stmt), " ")
		if stmt == "" {
			continue
		}
		m := grantStatement.FindStringSubmatch(stmt)
		if m == nil {
			return nil, fmt.Errorf("least-privilege.sql: not a GRANT of a table's privileges to :\"role\": %q", stmt)
		}
		for _, table := range strings.Split(m[2], ",") {
			for _, priv := range strings.Split(m[1], ",") {
				out = append(out, Grant{Table: strings.TrimSpace(table), Privilege: strings.ToUpper(strings.TrimSpace(priv))})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("least-privilege.sql grants nothing")
	}
	return out, nil
}
