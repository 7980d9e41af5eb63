package cli

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    versionInfo
		want []string
	}{
		{"tagged", versionInfo{Version: "v1.2.3", Revision: "1ac2b8b17fa9", Time: "2026-11-27T05:14:11Z", GoVersion: "go1.26.8"},
			[]string{Name + " v1.2.3", "revision 1ac2b8b17fa9", "committed 2026-11-27T05:14:11Z", "go1.26.8"}},
		{"dirty work tree", versionInfo{Version: "(devel)", Revision: "abc", Modified: true},
			[]string{"(devel)", "revision abc (modified)"}},
		{"no VCS", versionInfo{Version: "(devel)"}, []string{"revision unknown (built without VCS information)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.v.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
}

// The built binary answers "version" and "--version" alike, from its build
// info: the test binary's build stamps the Go version at least.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	var outs []string
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("%s %s: %v", bin, arg, err)
		}
		if !strings.HasPrefix(string(out), Name+" ") || !strings.Contains(string(out), "built with go") {
			t.Errorf("%s: %q", arg, out)
		}
		outs = append(outs, string(out))
	}
	if outs[0] != outs[1] {
		t.Errorf("version and --version differ: %q, %q", outs[0], outs[1])
	}
}

// An image built without .git stamps the version and revision with -X
// (the Dockerfile's VERSION and REVISION); version shows them.
func TestVersionStampedAtBuild(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir() + "/wxc-sync"
	const pkg = "github.com/wxc-inventory/wxc-sync/internal/cli"
	build := exec.Command(gobin, "build", "-buildvcs=false", "-o", bin,
		"-ldflags", "-X "+pkg+".stampedVersion=v9.8.7 -X "+pkg+".stampedRevision=0123abcd", "../../cmd/sync")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), Name+" v9.8.7\nrevision 0123abcd\n") {
		t.Errorf("version: %q", out)
	}
}

func TestMessageEscapesEachLine(t *testing.T) {
	t.Parallel()
	err := errors.New("--rate 0: want more\nWebex said \x1b]0;pwned\a")
	if got, want := Message(err), "--rate 0: want more\nWebex said \\x1b]0;pwned\\a"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}
