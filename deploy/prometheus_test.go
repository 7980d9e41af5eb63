package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"

	"github.com/wxc-inventory/wxc-sync/internal/testbin"
)

const (
	rulesFile     = "prometheus/wxc-sync-rules.yml"
	rulesTestFile = "prometheus/wxc-sync-rules.test.yml"
	promRuleFile  = "kubernetes/prometheus-rule.yaml"
	runbookFile   = "../docs/ALERTS.md"
)

// loadRules strictly decodes the plain rules file into the Operator's
// types: a field Prometheus would not know fails here too.
func loadRules(t *testing.T) monitoringv1.PrometheusRuleSpec {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var spec monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(b, &spec); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return spec
}

func alertNames(spec monitoringv1.PrometheusRuleSpec) []string {
	var names []string
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				names = append(names, r.Alert)
			}
		}
	}
	return names
}

// promtool check rules loads the file as Prometheus does (syntax, PromQL,
// templates) and lints it.
func TestRulesPassPromtoolCheck(t *testing.T) {
	t.Parallel()
	promtool := testbin.Need(t, testbin.Promtool)
	for _, f := range []string{rulesFile, ruleFileOfPrometheusRule(t)} {
		out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool check rules %s: %v\n%s", f, err, out)
		}
	}
}

// ruleFileOfPrometheusRule writes the PrometheusRule's spec as a rules
// file, for promtool.
func ruleFileOfPrometheusRule(t *testing.T) string {
	t.Helper()
	pr := loadPrometheusRule(t)
	b, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "prometheus-rule-spec.yml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// promtool test rules runs the unit tests: for each alert a series that
// fires it and one that does not.
func TestRulesPassPromtoolUnitTests(t *testing.T) {
	t.Parallel()
	promtool := testbin.Need(t, testbin.Promtool)
	out, err := exec.Command(promtool, "test", "rules", rulesTestFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool test rules %s: %v\n%s", rulesTestFile, err, out)
	}
}

// Every alert has a unit test in which it fires and one evaluation at
// which nothing does; a summary, a description that says what to do, and
// a runbook section.
func TestEveryAlertIsTestedAndHasARunbook(t *testing.T) {
	t.Parallel()
	spec := loadRules(t)
	b, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			Name          string `json:"name"`
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []struct {
					ExpLabels map[string]string `json:"exp_labels"`
				} `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) == 0 {
				quiet[a.Alertname] = true
			}
			for _, e := range a.ExpAlerts {
				// Scope 1/2 is each group's series that does not fire:
				// exp_alerts must not list it. Scope all fires; a group
				// may add scopes of its own for the cases between.
				switch e.ExpLabels["scope"] {
				case "all":
					fires[a.Alertname] = true
				case "1/2":
					t.Errorf("%s: %s expected to fire for scope 1/2, the group's non-firing series", tc.Name, a.Alertname)
				}
			}
		}
	}
	runbook, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	names := alertNames(spec)
	if len(names) < 8 {
		t.Fatalf("%d alerts in %s, want at least 8: %v", len(names), rulesFile, names)
	}
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: a unit test where it fires: %v; an evaluation where it does not: %v", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
			if r.Annotations["summary"] == "" || !strings.Contains(r.Annotations["description"], "Fix:") {
				t.Errorf("%s: want a summary and a description that says the fix (Fix: ...)", r.Alert)
			}
			if sev := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning"}, sev) {
				t.Errorf("%s: severity %q", r.Alert, sev)
			}
			anchor := strings.ToLower(r.Alert)
			if !strings.HasSuffix(r.Annotations["runbook_url"], "/docs/ALERTS.md#"+anchor) {
				t.Errorf("%s: runbook_url %q, want docs/ALERTS.md#%s", r.Alert, r.Annotations["runbook_url"], anchor)
			}
			if !regexp.MustCompile(`(?m)^### ` + r.Alert + `$`).Match(runbook) {
				t.Errorf("%s: no section \"### %s\" in %s", r.Alert, r.Alert, runbookFile)
			}
		}
	}
}

func loadPrometheusRule(t *testing.T) monitoringv1.PrometheusRule {
	t.Helper()
	b, err := os.ReadFile(promRuleFile)
	if err != nil {
		t.Fatal(err)
	}
	var pr monitoringv1.PrometheusRule
	if err := yaml.UnmarshalStrict(b, &pr); err != nil {
		t.Fatalf("%s: %v", promRuleFile, err)
	}
	return pr
}

// The PrometheusRule holds exactly the rules of the plain file: one is
// edited, the other must be too.
func TestPrometheusRuleMatchesTheRulesFile(t *testing.T) {
	t.Parallel()
	pr := loadPrometheusRule(t)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != monitoringv1.PrometheusRuleKind || pr.Name == "" {
		t.Errorf("%s: %s %s %q", promRuleFile, pr.APIVersion, pr.Kind, pr.Name)
	}
	if d := cmp.Diff(loadRules(t), pr.Spec); d != "" {
		t.Errorf("%s's spec differs from %s (-plain +PrometheusRule):\n%s", promRuleFile, rulesFile, d)
	}
}
