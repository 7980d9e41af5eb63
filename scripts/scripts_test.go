package scripts_test

import (
	"context"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
	"github.com/wxc-inventory/wxc-sync/scripts"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var update = flag.Bool("update", false, "rewrite the list of grants in docs/CONFIGURATION.md from least-privilege.sql")

// TestGrantsReadsEveryStatement: each GRANT line of the file gives one
// grant per table and privilege it names.
func TestGrantsReadsEveryStatement(t *testing.T) {
	t.Parallel()
	grants, err := scripts.Grants()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, line := range strings.Split(scripts.LeastPrivilege, "\n") {
		if m := regexp.MustCompile(`^GRANT (.+) ON (.+) TO`).FindStringSubmatch(line); m != nil {
			want += len(strings.Split(m[1], ",")) * len(strings.Split(m[2], ","))
		}
	}
	if len(grants) != want || want == 0 {
		t.Errorf("%d grants read, the file's GRANT lines give %d", len(grants), want)
	}
	if !slices.Contains(grants, scripts.Grant{Table: "device_changes", Privilege: "INSERT"}) ||
		slices.Contains(grants, scripts.Grant{Table: "device_changes", Privilege: "UPDATE"}) {
		t.Errorf("grants %v: want INSERT on device_changes and no UPDATE", grants)
	}
}

const (
	// grantsDoc is the page that lists the grants, generated from the file.
	grantsDoc   = "../docs/CONFIGURATION.md"
	grantsBegin = "<!-- The grants of scripts/least-privilege.sql; go test ./scripts -update rewrites this table. -->\n"
	grantsEnd   = "<!-- End of the grants. -->\n"
)

// grantsTable is the docs' table of the file's grants: one row per
// table or view, in the file's order.
func grantsTable(t *testing.T) string {
	grants, err := scripts.Grants()
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	privs := map[string][]string{}
	for _, g := range grants {
		if _, ok := privs[g.Table]; !ok {
			tables = append(tables, g.Table)
		}
		privs[g.Table] = append(privs[g.Table], "`"+g.Privilege+"`")
	}
	var b strings.Builder
	b.WriteString("| table or view | privileges |\n|---|---|\n")
	for _, table := range tables {
		b.WriteString("| `" + table + "` | " + strings.Join(privs[table], ", ") + " |\n")
	}
	return b.String()
}

// TestDocsListTheGrants: the docs' list of what the run's role is granted
// is the file's, generated from it.
func TestDocsListTheGrants(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(grantsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, grantsBegin), strings.Index(doc, grantsEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no block between %q and %q", grantsDoc, grantsBegin, grantsEnd)
	}
	want := grantsTable(t)
	got := doc[i+len(grantsBegin) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(grantsDoc, []byte(doc[:i+len(grantsBegin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s lists other grants than scripts/least-privilege.sql (go test ./scripts -update rewrites it):\n got:\n%s\nwant:\n%s", grantsDoc, got, want)
}

// TestGrantsCoverWhatARunReads: every table and view that the run's
// statements name (queries/sync.sql, listing.sql, lock.sql, schema.sql)
// and check's (check.sql) is granted. internal/cli's least-privilege test
// runs syncs as such a role, which proves the privileges themselves.
func TestGrantsCoverWhatARunReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.DB(t)
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')`)
	if err != nil {
		t.Fatal(err)
	}
	relations, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	grants, err := scripts.Grants()
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, g := range grants {
		granted[g.Table] = true
	}
	comment := regexp.MustCompile(`--.*`)
	named := 0
	for _, file := range []string{"sync.sql", "listing.sql", "lock.sql", "schema.sql", "check.sql"} {
		b, err := os.ReadFile("../queries/" + file)
		if err != nil {
			t.Fatal(err)
		}
		words := regexp.MustCompile(`\w+`).FindAllString(comment.ReplaceAllString(string(b), ""), -1)
		for _, rel := range relations {
			if slices.Contains(words, rel) {
				named++
				if !granted[rel] {
					t.Errorf("queries/%s names %s, which scripts/least-privilege.sql does not grant", file, rel)
				}
			}
		}
	}
	if named == 0 {
		t.Fatal("no statement names a relation: the check covers nothing")
	}
}
