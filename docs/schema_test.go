package docs

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wxc-inventory/wxc-sync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// relation is a table or view of the migrated schema, as the catalogue
// has it.
type relation struct {
	name    string
	kind    string // table, view
	comment string
	columns []string
}

// TestSchemaDocumented holds docs/SCHEMA.md to the migrated schema, which
// the analyst and the auditor query: every table and view has a section of
// its own ("### name") that names each of its columns in code, no section
// names a relation that does not exist, and every relation carries a
// COMMENT, for psql's \d+ and a BI tool's descriptions. A migration that
// adds a table or a column without saying what it holds fails here.
func TestSchemaDocumented(t *testing.T) {
	pool := pgtest.DB(t)
	rows, err := pool.Query(context.Background(), `
		SELECT c.relname,
		       CASE WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END,
		       coalesce(obj_description(c.oid, 'pg_class'), ''),
		       array_agg(a.attname::text ORDER BY a.attnum)
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE n.nspname = current_schema()
		  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
		  AND c.relname <> 'goose_db_version'
		GROUP BY c.oid, c.relname, c.relkind
		ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	var rels []relation
	for rows.Next() {
		var r relation
		if err := rows.Scan(&r.name, &r.kind, &r.comment, &r.columns); err != nil {
			t.Fatal(err)
		}
		rels = append(rels, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rels) < 10 {
		t.Fatalf("the migrated schema has %d tables and views; expected the job's (devices, device_changes, sync_runs, ...)", len(rels))
	}

	md, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := schemaSections(string(md))
	for _, r := range rels {
		if strings.TrimSpace(r.comment) == "" {
			t.Errorf("%s %s has no COMMENT: add one in a migration (what it holds, in a sentence)", r.kind, r.name)
		}
		body, ok := sections[r.name]
		if !ok {
			t.Errorf("docs/SCHEMA.md has no section \"### %s\" for the %s %s", r.name, r.kind, r.name)
			continue
		}
		named := codeIdentifiers(body)
		for _, c := range r.columns {
			if !named[c] {
				t.Errorf("docs/SCHEMA.md, section %s: column %s is not named (in `code`)", r.name, c)
			}
		}
	}
	for name := range sections {
		if !slices.ContainsFunc(rels, func(r relation) bool { return r.name == name }) {
			t.Errorf("docs/SCHEMA.md has a section \"### %s\", but the migrated schema has no table or view of that name", name)
		}
	}
}

var (
	identifier     = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	identifierPart = regexp.MustCompile(`[a-z_][a-z0-9_]*`)
)

// schemaSections returns the text under each third-level heading of md
// (links_test.go's heading) that is a bare SQL name, to the next heading
// of any level.
func schemaSections(md string) map[string]string {
	out := map[string]string{}
	locs := heading.FindAllStringSubmatchIndex(md, -1)
	for i, l := range locs {
		title := md[l[2]:l[3]]
		if !strings.HasPrefix(md[l[0]:l[1]], "### ") || !identifier.MatchString(title) {
			continue
		}
		end := len(md)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out[title] = md[l[1]:end]
	}
	return out
}

// codeIdentifiers is the set of SQL names in md's code spans: "`ip inet`"
// names ip (and inet).
func codeIdentifiers(md string) map[string]bool {
	out := map[string]bool{}
	for _, span := range codeSpan.FindAllString(md, -1) {
		for _, id := range identifierPart.FindAllString(span, -1) {
			out[id] = true
		}
	}
	return out
}
