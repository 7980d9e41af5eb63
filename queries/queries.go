// Package queries owns the SQL the job runs, kept in .sql files beside this
// one so that it can be read, reviewed and EXPLAINed as SQL. Each statement
// is introduced by a "-- name: Name" line. Reporting SQL for users lives in
// the reports folder and runs as it is with psql -f.
package queries

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed *.sql reports/*.sql
var files embed.FS

var statements = mustParse(files)

// Get returns the named statement. Names are fixed at compile time, so a
// missing one is a programming error, caught by this package's tests.
func Get(name string) string {
	s, ok := statements[name]
	if !ok {
		panic("queries: no statement named " + name)
	}
	return s
}

func mustParse(fsys fs.FS) map[string]string {
	m, err := parse(fsys)
	if err != nil {
		panic(err)
	}
	return m
}

func parse(fsys fs.FS) (map[string]string, error) {
	paths, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		var name string
		var body strings.Builder
		flush := func() error {
			if name == "" {
				return nil
			}
			if _, dup := out[name]; dup {
				return fmt.Errorf("queries: %s: statement %s defined twice", p, name)
			}
			stmt := strings.TrimSpace(body.String())
			if stmt == "" {
				return fmt.Errorf("queries: %s: statement %s is empty", p, name)
			}
			out[name] = stmt
			body.Reset()
			return nil
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := sc.Text()
			if n, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
				if err := flush(); err != nil {
					return nil, err
				}
				name = strings.TrimSpace(n)
				continue
			}
			if name != "" {
				body.WriteString(line)
				body.WriteByte('\n')
			}
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Reports is the folder of reporting SQL files, as shipped.
func Reports() fs.FS {
	sub, err := fs.Sub(files, "reports")
	if err != nil {
		panic(err)
	}
	return sub
}
