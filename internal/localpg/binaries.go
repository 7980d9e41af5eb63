package localpg

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// installGlob is where Debian and Ubuntu keep each major version's server
// binaries, off PATH. A variable so that tests can point it elsewhere.
var installGlob = "/usr/lib/postgresql/*/bin"

// fixAdvice ends the error for missing binaries.
const fixAdvice = `To fix, either:
  - install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql;
    Fedora/RHEL: dnf install postgresql-server; macOS: brew install postgresql)
    and make sure initdb and pg_ctl are on PATH or under ` + "%s" + `; or
  - set DATABASE_URL to the connection string of a PostgreSQL server you already have.`

// findBinaries finds initdb and pg_ctl of one installation: on PATH first,
// then the highest version under installGlob.
func findBinaries() (initdb, pgctl string, err error) {
	var tried []string
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
		tried = append(tried, fmt.Sprintf("found initdb at %s, but no pg_ctl beside it or on %s", initdb, describePath()))
	} else {
		tried = append(tried, "no initdb on "+describePath())
	}

	matches, _ := filepath.Glob(installGlob)
	dirs := slices.DeleteFunc(slices.Clone(matches), func(d string) bool {
		return !isExecutable(filepath.Join(d, "initdb")) || !isExecutable(filepath.Join(d, "pg_ctl"))
	})
	if len(dirs) == 0 {
		if len(matches) == 0 {
			tried = append(tried, installGlob+": no such directories")
		} else {
			tried = append(tried, fmt.Sprintf("%s: none of %s holds both initdb and pg_ctl", installGlob, strings.Join(matches, ", ")))
		}
		searched := errors.New("no PostgreSQL server binaries (initdb and pg_ctl) found; searched:\n  - " + strings.Join(tried, "\n  - "))
		return "", "", fmt.Errorf("%w\n"+fixAdvice, searched, installGlob)
	}
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b)))
	})
	best := dirs[len(dirs)-1]
	return filepath.Join(best, "initdb"), filepath.Join(best, "pg_ctl"), nil
}

// describePath lists the directories of PATH for an error message.
func describePath() string {
	p := os.Getenv("PATH")
	if p == "" {
		return "PATH (empty)"
	}
	return "PATH (" + p + ")"
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
