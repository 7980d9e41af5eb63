package cli

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// Set with -ldflags "-X ...", for builds that carry no VCS information:
// an image built from a context without .git (see the Dockerfile).
var (
	stampedVersion  string
	stampedRevision string
)

// versionInfo is what "version" prints, from the binary's build info.
type versionInfo struct {
	Version   string // the module version: a tag, a pseudo-version, or (devel)
	Revision  string // VCS revision, empty when the build recorded none
	Time      string // commit time
	Modified  bool   // built from a work tree with uncommitted changes
	GoVersion string
}

func readVersion() versionInfo {
	v := versionInfo{Version: "(unknown)"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Version, v.GoVersion = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if stampedVersion != "" && (v.Version == "" || v.Version == "(devel)" || v.Version == "(unknown)") {
		v.Version = stampedVersion
	}
	if v.Revision == "" {
		v.Revision = stampedRevision
	}
	return v
}

func (v versionInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", Name, v.Version)
	rev := v.Revision
	if rev == "" {
		rev = "unknown (built without VCS information)"
	}
	fmt.Fprintf(&b, "\nrevision %s", rev)
	if v.Modified {
		b.WriteString(" (modified)")
	}
	if v.Time != "" {
		fmt.Fprintf(&b, "\ncommitted %s", v.Time)
	}
	if v.GoVersion != "" {
		fmt.Fprintf(&b, "\nbuilt with %s", v.GoVersion)
	}
	return b.String()
}

func cmdVersion(args []string, stdout io.Writer) error {
	fs := newFlagSet("version", "Shows the module version and the VCS revision the binary was built from.", stdout)
	if err := fs.parse(args, func(string) string { return "" }); err != nil {
		return err
	}
	fmt.Fprintln(stdout, readVersion())
	return nil
}
