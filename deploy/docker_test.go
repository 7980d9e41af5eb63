package deploy_test

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/wxc-inventory/wxc-sync/internal/demo"
)

type stage struct {
	name  string
	lines []string // the instructions after FROM, continuations joined
}

func (s stage) user() (string, bool) {
	u, ok := "", false
	for _, l := range s.lines {
		if f := strings.Fields(l); len(f) == 2 && strings.EqualFold(f[0], "USER") {
			u, ok = f[1], true
		}
	}
	return u, ok
}

var fromLine = regexp.MustCompile(`(?i)^FROM\s+\S+(?:\s+AS\s+(\S+))?$`)

func dockerfileStages(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var cont string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cont += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, cont = cont+line, ""
		if m := fromLine.FindStringSubmatch(line); m != nil {
			stages = append(stages, stage{name: m[1]})
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %s", line)
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
	}
	if len(stages) == 0 {
		t.Fatal("no stage in the Dockerfile")
	}
	return stages
}

// The production image (the default target: the last stage) holds the job
// alone and runs as a numeric user, which Kubernetes needs to enforce
// runAsNonRoot; the simulator has its own target; the build context leaves
// out .git and secrets.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := dockerfileStages(t)
	byName := map[string]stage{}
	for _, s := range stages {
		byName[s.name] = s
	}
	job := stages[len(stages)-1]
	if job.name != "job" {
		t.Errorf("the default target is %q, want the job's stage", job.name)
	}
	for _, name := range []string{"job", "webexsim"} {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no %s target", name)
			continue
		}
		if u, ok := s.user(); !ok || !regexp.MustCompile(`^[1-9]\d*:[1-9]\d*$`).MatchString(u) {
			t.Errorf("%s: USER %q: want a numeric, non-root uid:gid", name, u)
		}
	}
	for _, l := range job.lines {
		if strings.HasPrefix(strings.ToUpper(l), "COPY") && (strings.Contains(l, "webexsim") || !strings.Contains(l, "/out/wxc-sync")) {
			t.Errorf("the production image copies more than the job: %s", l)
		}
	}
	// The image's build fetches only the modules the binaries import:
	// "go mod download" would fetch every module of go.mod, the tests'
	// (testcontainers, the Kubernetes API, compose-go) too.
	builds := 0
	for _, st := range stages {
		for _, l := range st.lines {
			if !strings.HasPrefix(strings.ToUpper(l), "RUN") {
				continue
			}
			if strings.Contains(l, "go mod download") {
				t.Errorf("%s: %s: fetches every module of go.mod, the tests' too", st.name, l)
			}
			if strings.Contains(l, "go build") {
				builds++
				if !strings.Contains(l, "--mount=type=cache,target=/go/pkg/mod") {
					t.Errorf("%s: %s: the build keeps no module cache between builds", st.name, l)
				}
			}
		}
	}
	if builds == 0 {
		t.Error("no stage runs go build")
	}
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	ignored := strings.Fields(string(b))
	for _, want := range []string{".git", "secrets", "bin"} {
		if !slices.Contains(ignored, want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}

func loadCompose(t *testing.T, file string, profiles ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithProfiles(profiles), cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv([]string{}), cli.WithName("wxc-sync"))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// The compose file loads under compose-go (schema and consistency: a
// service that depends on, or shares the network of, a service its profile
// leaves out is an error) for each profile, and each profile holds the
// services it promises.
func TestComposeProfiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		profiles []string
		want     []string
	}{
		{nil, []string{"db"}},
		{[]string{"demo"}, []string{"db", "demo-load-ids", "demo-migrate", "demo-sync", "webexsim"}},
		{[]string{"org"}, []string{"db", "discover", "migrate", "sync"}},
	} {
		t.Run(strings.Join(append([]string{"profile"}, tc.profiles...), " "), func(t *testing.T) {
			p, err := loadCompose(t, "../docker-compose.yml", tc.profiles...)
			if err != nil {
				t.Fatalf("compose-go refuses the file: %v", err)
			}
			names := p.ServiceNames()
			sort.Strings(names)
			if !slices.Equal(names, tc.want) {
				t.Errorf("services %v, want %v", names, tc.want)
			}
			for _, s := range p.Services {
				if len(s.Command) > 0 && s.Command[0] == "run" && !slices.Contains(s.Command, "--no-migrate") {
					t.Errorf("%s runs without --no-migrate", s.Name)
				}
				if s.Build != nil && s.Build.Target == "" {
					t.Errorf("%s builds the Dockerfile without naming its target", s.Name)
				}
				if slices.Contains(tc.profiles, "org") && (s.Name == "webexsim" || strings.Contains(s.NetworkMode, "webexsim") || s.Environment["WEBEX_TOKEN"] != nil) {
					t.Errorf("the org profile's %s uses the simulator or a token in the file", s.Name)
				}
			}
			// The org profile's token reaches the job's user: a file secret
			// is bind-mounted with the host file's owner and mode, which uid
			// 65532 cannot read from a private file; an environment secret
			// is copied in, owned by the user it names.
			for _, s := range p.Services {
				for _, sec := range s.Secrets {
					if sec.Source != "webex_token" {
						continue
					}
					if sec.UID != "65532" || sec.GID != "65532" || sec.Mode == nil || *sec.Mode != 0o400 {
						t.Errorf("%s: the token's secret is %s:%s mode %v, want 65532:65532 0400 (the image's user)", s.Name, sec.UID, sec.GID, sec.Mode)
					}
					if top := p.Secrets["webex_token"]; top.File != "" || top.Environment == "" {
						t.Errorf("the token's secret is the file %q: a bind mount the job's user cannot read; want an environment secret", top.File)
					}
				}
			}
			// The database is published where a local PostgreSQL is not, at
			// the URL the demo tells people to use.
			ports := p.Services["db"].Ports
			u, err := url.Parse(demo.ComposeServerURL)
			if err != nil {
				t.Fatal(err)
			}
			if len(ports) != 1 || ports[0].Published == "5432" || ports[0].HostIP != "127.0.0.1" || ports[0].Published != u.Port() {
				t.Errorf("db publishes %+v; want 127.0.0.1 and the port of %s, not 5432", ports, demo.ComposeServerURL)
			}
			hc := p.Services["db"].HealthCheck
			if hc == nil || !slices.Contains(hc.Test, "pg_isready") || !slices.Contains(hc.Test, "127.0.0.1") {
				t.Errorf("db healthcheck %v: want pg_isready over TCP (-h 127.0.0.1)", hc)
			}
		})
	}
}

// The check above can fail: an org service that shares the simulator's
// network, as the demo's jobs do, makes the org profile invalid.
func TestComposeProfileConsistencyIsChecked(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "  sync:\n    profiles: [org]\n", "  sync:\n    profiles: [org]\n    network_mode: \"service:webexsim\"\n", 1)
	if broken == string(b) {
		t.Fatal("the org sync service was not found to break")
	}
	file := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(file, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(t, file, "org"); err == nil || !strings.Contains(err.Error(), "webexsim") {
		t.Errorf("an org service on the simulator's network loaded: %v", err)
	}
}
