package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/riskgate/riskgate/internal/promtooltest"
)

// The Prometheus alerting rules, their promtool tests and their runbook.
var (
	rulesFile   = filepath.Join("prometheus", "riskgate.rules.yaml")
	ruleTests   = []string{filepath.Join("prometheus", "riskgate.rules_test.yaml"), filepath.Join("prometheus", "riskgate.rules_weekly_test.yaml")}
	runbookFile = filepath.Join("..", "docs", "monitoring.md")
	runbookURL  = "https://github.com/riskgate/riskgate/blob/main/docs/monitoring.md#"
	severities  = []string{"critical", "warning", "info"}
	jobMatcher  = `job="riskgate"`
	alertNameRE = regexp.MustCompile(`^Riskgate[A-Z][A-Za-z0-9]*$`)
	// flagInTextRE is a flag an annotation names, or a family of them
	// (--memory-max-*).
	flagInTextRE = regexp.MustCompile(`(?:^|[\s(])--([a-z0-9][a-z0-9-]*)(\*?)`)
	// selectorRE is a metric an expression selects, with its matchers:
	// riskgate's, the process collector's, and Prometheus' own up.
	selectorRE = regexp.MustCompile(`\b((?:riskgate|process|go)_[a-z0-9_]+|up)\b(\{[^}]*\})?`)
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleTestFile struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	Tests              []struct {
		Name          string `yaml:"name"`
		Interval      string `yaml:"interval"`
		InputSeries   []any  `yaml:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			AlertName string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
		PromQLExprTest []any `yaml:"promql_expr_test"`
	} `yaml:"tests"`
}

// decodeStrict decodes YAML refusing keys v has no field for: a misspelt
// key (anotations:, exp_alert:) would otherwise be dropped without a word,
// by this test and by Prometheus alike.
func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	var rf ruleFile
	decodeStrict(t, rulesFile, &rf)
	var out []rule
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	if len(out) < 30 {
		t.Fatalf("only %d alerts in %s: is it empty?", len(out), rulesFile)
	}
	return out
}

// githubAnchor is the anchor GitHub gives a Markdown heading: lower case,
// punctuation but - and _ dropped, spaces as -.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// runbookSections reads docs/monitoring.md's headings: the anchors of all
// of them, and the alerts' sections (### RiskgateX), in order.
func runbookSections(t *testing.T) (anchors map[string]bool, alerts []string) {
	t.Helper()
	data, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors = map[string]bool{}
	inCode := false
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		heading := strings.TrimLeft(line, "#")
		anchors[githubAnchor(heading)] = true
		if name := strings.TrimSpace(heading); strings.HasPrefix(line, "### ") && alertNameRE.MatchString(name) {
			alerts = append(alerts, name)
		}
	}
	return anchors, alerts
}

// TestPrometheusRulesFile: the alerts keep the conventions on-call relies
// on. Each is named RiskgateX, has a severity (critical, warning, info),
// a summary and a description, and a runbook_url to its own section of
// docs/monitoring.md, which exists; every section of the runbook is an
// alert's. Every metric selector is scoped to job="riskgate", so that the
// substitution the rules file documents reaches them all. The flags the
// annotations name are riskgate serve's. And every alert has a promtool
// test where it fires and one where it does not.
func TestPrometheusRulesFile(t *testing.T) {
	rules := alertRules(t)
	anchors, sections := runbookSections(t)
	flags, _ := serveOptions(t)

	seen := map[string]bool{}
	for _, r := range rules {
		if !alertNameRE.MatchString(r.Alert) {
			t.Errorf("alert %q: name it RiskgateSomething, as the others", r.Alert)
		}
		if seen[r.Alert] {
			t.Errorf("alert %s is defined twice: promtool tests and runbook sections are by name", r.Alert)
		}
		seen[r.Alert] = true
		if !slices.Contains(severities, r.Labels["severity"]) {
			t.Errorf("%s: severity %q, want one of %v", r.Alert, r.Labels["severity"], severities)
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[k]) == "" {
				t.Errorf("%s has no %s annotation", r.Alert, k)
			}
		}
		for k := range r.Annotations {
			if !slices.Contains([]string{"summary", "description", "runbook_url"}, k) {
				t.Errorf("%s: annotation %s: the alerts have summary, description and runbook_url only", r.Alert, k)
			}
		}
		anchor := strings.ToLower(r.Alert)
		if got := r.Annotations["runbook_url"]; got != runbookURL+anchor {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, got, runbookURL+anchor)
		}
		if !anchors[anchor] {
			t.Errorf("%s: docs/monitoring.md has no section \"### %s\", its runbook_url's anchor", r.Alert, r.Alert)
		}
		// Scoped to the job, every selector.
		selectors := selectorRE.FindAllStringSubmatch(r.Expr, -1)
		if len(selectors) == 0 {
			t.Errorf("%s: no metric selector found in %s", r.Alert, r.Expr)
		}
		for _, m := range selectors {
			if !strings.Contains(m[2], jobMatcher) {
				t.Errorf("%s: %s%s without %s: on-call's job substitution would miss it", r.Alert, m[1], m[2], jobMatcher)
			}
		}
		for k, text := range r.Annotations {
			for _, m := range flagInTextRE.FindAllStringSubmatch(text, -1) {
				if m[2] == "*" && !hasFlagPrefix(flags, m[1]) || m[2] == "" && !flags[m[1]] {
					t.Errorf("%s: annotation %s names --%s%s, which riskgate serve does not have", r.Alert, k, m[1], m[2])
				}
			}
		}
	}
	for _, s := range sections {
		if !seen[s] {
			t.Errorf("docs/monitoring.md has a section for %s, which is no alert of %s", s, rulesFile)
		}
	}
	names := make([]string, 0, len(rules))
	for _, r := range rules {
		names = append(names, r.Alert)
	}
	if !slices.Equal(sections, names) {
		t.Errorf("docs/monitoring.md's alert sections are not in the rules file's order:\n  docs:  %v\n  rules: %v", sections, names)
	}

	// Each alert fires in a test, and stays silent in one.
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, path := range ruleTests {
		var tf ruleTestFile
		decodeStrict(t, path, &tf)
		if !slices.Equal(tf.RuleFiles, []string{filepath.Base(rulesFile)}) {
			t.Errorf("%s: rule_files %v, want [%s]", path, tf.RuleFiles, filepath.Base(rulesFile))
		}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if !seen[a.AlertName] {
					// An expectation of no alert would pass for ever.
					t.Errorf("%s, test %q: alertname %s is no alert of %s", path, tc.Name, a.AlertName, rulesFile)
				}
				if len(a.ExpAlerts) > 0 {
					fires[a.AlertName] = true
				} else {
					silent[a.AlertName] = true
				}
			}
		}
	}
	for _, r := range rules {
		if !fires[r.Alert] {
			t.Errorf("%s: no promtool test where it fires (exp_alerts with its labels and annotations)", r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no promtool test where it stays silent (exp_alerts: [] on healthy series, below its threshold or before its for:)", r.Alert)
		}
	}
}

func hasFlagPrefix(flags map[string]bool, prefix string) bool {
	for f := range flags {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// promtool runs promtool with args in dir and returns its output, failing
// the test on an error.
func promtool(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPrometheusRules: Prometheus' own promtool accepts the rules file
// (parsed and type-checked, every template too, linted) and its unit
// tests pass: each alert fires, with its labels and annotations, on the
// series it is meant for, and not on the others.
func TestPrometheusRules(t *testing.T) {
	t.Parallel() // promtool's runs take seconds each, beside the job test's
	bin := promtooltest.Binary(t)
	n := 0
	var rf ruleFile
	decodeStrict(t, rulesFile, &rf)
	for _, g := range rf.Groups {
		n += len(g.Rules)
	}
	t.Run("check", func(t *testing.T) {
		t.Parallel()
		out := promtool(t, bin, ".", "check", "rules", "--lint=all", "--lint-fatal", rulesFile)
		if !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", n)) {
			t.Errorf("promtool check rules did not find the %d rules of %s:\n%s", n, rulesFile, out)
		}
	})
	for _, path := range ruleTests {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			// From the rules' folder, as rule_files names them.
			promtool(t, bin, filepath.Dir(path), "test", "rules", filepath.Base(path))
		})
	}
}

// TestPrometheusRulesJobLabel: the substitution that the rules file
// documents for another scrape job, applied to the rules and their tests,
// leaves no "riskgate" job behind and the tests passing: no job value is
// written some other way (job: riskgate, a description that names it).
// promtool runs riskgate.rules_test.yaml only, which has every alert but
// RiskgateNoDecisions; the weekly file's job is in the same places (input
// series, expected labels), checked here before.
func TestPrometheusRulesJobLabel(t *testing.T) {
	t.Parallel()
	bin := promtooltest.Binary(t)
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	// The documented command, as the rules file writes it.
	if !bytes.Contains(rules, []byte(`sed -i 's/"riskgate"/"YOUR-JOB"/g' riskgate.rules*.yaml`)) {
		t.Fatalf("%s no longer documents the job substitution this test applies", rulesFile)
	}
	dir := t.TempDir()
	for _, path := range append([]string{rulesFile}, ruleTests...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte(`"riskgate"`), []byte(`"riskgate-prod"`))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range ruleTests {
		data, err := os.ReadFile(filepath.Join(dir, filepath.Base(path)))
		if err != nil {
			t.Fatal(err)
		}
		var tf struct {
			Tests []struct {
				AlertRuleTest []struct {
					ExpAlerts []struct {
						ExpLabels map[string]string `yaml:"exp_labels"`
					} `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(data, &tf); err != nil {
			t.Fatal(err)
		}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				for _, e := range a.ExpAlerts {
					if j, ok := e.ExpLabels["job"]; ok && j != "riskgate-prod" {
						t.Errorf("%s: an expected alert's job is %q after the substitution", path, j)
					}
				}
			}
		}
	}
	if t.Failed() {
		return
	}
	promtool(t, bin, dir, "test", "rules", filepath.Base(ruleTests[0]))
}
