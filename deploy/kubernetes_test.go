package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// manifest is one file of deploy/kubernetes, decoded.
type manifest struct {
	file string
	text string
	job  batchv1.JobSpec // the Job's, or the CronJob's job template's
	kind string
	name string
}

// loadManifests strictly decodes every manifest: an unknown or duplicate
// field, a wrong type or a bad quantity is an error, as the API server's
// strict field validation would say.
func loadManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var out []manifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(b, &head); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		m := manifest{file: f, text: string(b), kind: head.Kind}
		switch head.APIVersion + " " + head.Kind {
		case "batch/v1 CronJob":
			var cj batchv1.CronJob
			if err := yaml.UnmarshalStrict(b, &cj); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			m.job, m.name = cj.Spec.JobTemplate.Spec, cj.Name
			if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("%s: concurrencyPolicy %q, want Forbid", f, cj.Spec.ConcurrencyPolicy)
			}
			if cj.Spec.TimeZone == nil || len(strings.Fields(cj.Spec.Schedule)) != 5 {
				t.Errorf("%s: schedule %q in time zone %v: want five fields and a time zone", f, cj.Spec.Schedule, cj.Spec.TimeZone)
			}
		case "batch/v1 Job":
			var j batchv1.Job
			if err := yaml.UnmarshalStrict(b, &j); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			m.job, m.name = j.Spec, j.Name
		case "monitoring.coreos.com/v1 PrometheusRule":
			continue // no pod: TestPrometheusRuleMatchesTheRulesFile checks it
		default:
			t.Fatalf("%s: unexpected %s %s", f, head.APIVersion, head.Kind)
		}
		if errs := validation.IsDNS1123Subdomain(m.name); len(errs) > 0 {
			t.Errorf("%s: name %q: %v", f, m.name, errs)
		}
		out = append(out, m)
	}
	return out
}

func containerNames(spec corev1.PodSpec) []string {
	var names []string
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		names = append(names, c.Name)
	}
	return names
}

// The rules the API server and the kubelet apply to these manifests, and
// the ones this project promises: non-root with a numeric user, no service
// account token, the database URL from a Secret, the sync as the
// least-privilege role with --no-migrate, the migration as the owner, a
// valid podFailurePolicy, and the Kubernetes version stated.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	uid := dockerfileUID(t)
	var syncSecrets, migrateSecrets []string
	var sawMigrate, sawSync bool
	for _, m := range loadManifests(t) {
		t.Run(filepath.Base(m.file), func(t *testing.T) {
			pod := m.job.Template.Spec
			if !regexp.MustCompile(`Needs Kubernetes 1\.\d+ or later`).MatchString(m.text) {
				t.Errorf("the manifest does not state the Kubernetes version it needs")
			}
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Errorf("automountServiceAccountToken is not false")
			}
			if pod.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %q: a podFailurePolicy needs Never", pod.RestartPolicy)
			}
			sc := pod.SecurityContext
			if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Fatalf("runAsNonRoot is not set")
			}
			// The kubelet enforces runAsNonRoot only with a numeric user:
			// the pod's, or else the image's (the Dockerfile's USER).
			if sc.RunAsUser == nil || *sc.RunAsUser == 0 || *sc.RunAsUser != uid {
				t.Errorf("runAsUser %v: want the image's numeric user %d", sc.RunAsUser, uid)
			}
			if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("seccompProfile is not RuntimeDefault")
			}
			for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
				csc := c.SecurityContext
				if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
					csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
					csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
					t.Errorf("container %s: want no privilege escalation, a read-only root and every capability dropped", c.Name)
				}
				if c.Resources.Limits.Memory().IsZero() {
					t.Errorf("container %s: no memory limit", c.Name)
				}
				var dbSecret string
				for _, e := range c.Env {
					if e.Value != "" && (strings.Contains(e.Value, "://") && strings.Contains(e.Value, "@") || strings.Contains(strings.ToLower(e.Name), "token") && e.Name != "WEBEX_TOKEN_FILE") {
						t.Errorf("container %s: %s holds a credential in the manifest", c.Name, e.Name)
					}
					if e.Name == "DATABASE_URL" {
						if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
							t.Errorf("container %s: DATABASE_URL does not come from a Secret", c.Name)
						} else {
							dbSecret = e.ValueFrom.SecretKeyRef.Name
						}
					}
				}
				if len(c.Args) == 0 {
					t.Fatalf("container %s: no args", c.Name)
				}
				switch c.Args[0] {
				case "run":
					sawSync = true
					syncSecrets = append(syncSecrets, dbSecret)
					if !slices.Contains(c.Args, "--no-migrate") {
						t.Errorf("container %s: the sync runs without --no-migrate: its role would need to own the schema", c.Name)
					}
				case "migrate":
					sawMigrate = true
					migrateSecrets = append(migrateSecrets, dbSecret)
				default:
					t.Errorf("container %s: args %v", c.Name, c.Args)
				}
			}
			checkPodFailurePolicy(t, m.job, containerNames(pod))
		})
	}
	if !sawMigrate || !sawSync {
		t.Fatalf("want a migration step and a sync: migrate %v, sync %v", sawMigrate, sawSync)
	}
	for _, s := range syncSecrets {
		if slices.Contains(migrateSecrets, s) {
			t.Errorf("the sync and the migration use the same database Secret %q: the sync must not have the owner's role", s)
		}
	}
}

// checkPodFailurePolicy applies the API server's validation of a Job's
// podFailurePolicy (pkg/apis/batch/validation) to the rules.
func checkPodFailurePolicy(t *testing.T, spec batchv1.JobSpec, containers []string) {
	t.Helper()
	pfp := spec.PodFailurePolicy
	if pfp == nil {
		t.Fatal("no podFailurePolicy: exit codes 2 and 3 would be retried")
	}
	if len(pfp.Rules) > 20 {
		t.Errorf("%d rules, at most 20", len(pfp.Rules))
	}
	for i, r := range pfp.Rules {
		switch r.Action {
		case batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyActionCount:
		case batchv1.PodFailurePolicyActionFailIndex:
			if spec.BackoffLimitPerIndex == nil {
				t.Errorf("rule %d: FailIndex needs backoffLimitPerIndex", i)
			}
		default:
			t.Errorf("rule %d: action %q", i, r.Action)
		}
		if (r.OnExitCodes == nil) == (len(r.OnPodConditions) == 0) {
			t.Errorf("rule %d: exactly one of onExitCodes and onPodConditions", i)
			continue
		}
		if ec := r.OnExitCodes; ec != nil {
			if ec.ContainerName != nil && !slices.Contains(containers, *ec.ContainerName) {
				t.Errorf("rule %d: containerName %q is none of %v", i, *ec.ContainerName, containers)
			}
			if ec.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn && ec.Operator != batchv1.PodFailurePolicyOnExitCodesOpNotIn {
				t.Errorf("rule %d: operator %q", i, ec.Operator)
			}
			if len(ec.Values) == 0 || len(ec.Values) > 255 || !slices.IsSorted(ec.Values) || len(slices.Compact(slices.Clone(ec.Values))) != len(ec.Values) {
				t.Errorf("rule %d: values %v: want 1 to 255 distinct, sorted codes", i, ec.Values)
			}
			for _, v := range ec.Values {
				if ec.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
					t.Errorf("rule %d: 0 with In", i)
				}
				if v < 0 || v > 255 {
					t.Errorf("rule %d: exit code %d", i, v)
				}
			}
		}
		for _, c := range r.OnPodConditions {
			if c.Type == "" || (c.Status != "" && c.Status != corev1.ConditionTrue && c.Status != corev1.ConditionFalse && c.Status != corev1.ConditionUnknown) {
				t.Errorf("rule %d: pod condition %+v", i, c)
			}
		}
	}
}

// dockerfileUID is the numeric user of the production image (the last
// stage's USER).
func dockerfileUID(t *testing.T) int64 {
	t.Helper()
	stages := dockerfileStages(t)
	final := stages[len(stages)-1]
	user, ok := final.user()
	if !ok {
		t.Fatalf("the final stage %q sets no USER", final.name)
	}
	uid, err := strconv.ParseInt(strings.Split(user, ":")[0], 10, 64)
	if err != nil {
		t.Fatalf("USER %q is not numeric", user)
	}
	return uid
}

// The CronJob's set-up steps work in the order given: the schema, then the
// run's role and its grants (without which the first hourly run fails on
// "permission denied"), then the Secret that names that role, then the
// CronJob.
func TestCronJobSetUpStepsCreateTheRunnersRole(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("kubernetes/cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	var last int
	for _, step := range []string{
		"kubectl apply -f deploy/kubernetes/migrate-job.yaml",
		`CREATE ROLE wxc_sync_runner LOGIN`,
		"-v role=wxc_sync_runner -f scripts/least-privilege.sql",
		"--from-file=url=./db-url",
		"kubectl apply -f deploy/kubernetes/cronjob.yaml",
	} {
		i := strings.Index(text, step)
		if i < last {
			t.Errorf("cronjob.yaml's steps lack %q, or give it out of order", step)
			continue
		}
		last = i
	}
	// Secrets never in a command's arguments (ps, shell history) or a
	// statement the server may log.
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md to check: %v", err)
	}
	for _, f := range append([]string{"kubernetes/cronjob.yaml", "kubernetes/migrate-job.yaml", "kubernetes/indexed-job.yaml", "../README.md", "../scripts/least-privilege.sql"}, docs...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?i)PASSWORD\s+'|--from-literal=\S*://[^@\s'"]*:[^@\s'"]*@|DATABASE_URL='?\w+://[^@\s'"]*:[^@\s'"]*@`).FindAllString(string(b), -1) {
			t.Errorf("%s: a password in a command's arguments or statement: %q", f, m)
		}
	}
	if _, err := os.Stat("../scripts/least-privilege.sql"); err != nil {
		t.Errorf("the steps name a script that is not there: %v", err)
	}
}
