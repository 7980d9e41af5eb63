// Package testbin finds the real programs that tests run against, as they
// run against a real PostgreSQL: headless Chromium, promtool and the
// Prometheus Pushgateway, from Debian's packages. Without one, a test is
// skipped, loudly, outside CI; with CI set it fails, since a CI run that
// quietly covers less is worse than a red one (.ci/run installs them).
package testbin

import (
	"os"
	"os/exec"
	"testing"
)

// Program is a program a test needs, and where to get it.
type Program struct {
	Names   []string // looked up on PATH, in order
	Package string   // the Debian package that installs it
}

var (
	Chromium    = Program{Names: []string{"chromium", "chromium-browser", "google-chrome"}, Package: "chromium"}
	Promtool    = Program{Names: []string{"promtool"}, Package: "prometheus"}
	Pushgateway = Program{Names: []string{"prometheus-pushgateway", "pushgateway"}, Package: "prometheus-pushgateway"}
)

// Need returns the path of p, or ends the test: a skip outside CI, a
// failure with CI set.
func Need(t testing.TB, p Program) string {
	t.Helper()
	for _, n := range p.Names {
		if path, err := exec.LookPath(n); err == nil {
			return path
		}
	}
	msg := "******** " + p.Names[0] + " is not installed (apt-get install -y " + p.Package + "): this test did NOT run ********"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set, so that is a failure (.ci/run installs it)")
	}
	t.Skip(msg)
	return ""
}
