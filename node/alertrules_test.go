package node_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// alertRulesDir holds the Prometheus alerting rules, alertRulesFile, and
// their promtool tests (deploy/prometheus_test.go runs promtool on them).
var alertRulesDir = filepath.Join("..", "deploy", "prometheus")

const alertRulesFile = "riskgate.rules.yaml"

// targetLabels are the labels Prometheus gives every series it scrapes,
// which no node exports.
var targetLabels = []string{"job", "instance"}

// prometheusMetrics are the series Prometheus makes itself, by name, with
// their labels: up is 1 or 0 for each scrape of a target.
var prometheusMetrics = map[string][]string{"up": nil}

// TestAlertRulesMetricsExist: every metric that an alerting rule of
// deploy/prometheus/riskgate.rules.yaml selects is one a node exports,
// and every label it names (in a matcher, a by, on or ignoring, or an
// annotation's $labels) is one of that metric's, or of the expression's
// metrics, or a target label. A misspelt metric or label in an alert is
// a selector that matches nothing: the alert can never fire, and nothing
// else says so (promtool check rules parses it happily; its unit tests
// only see the series they are given, spelt as the rule is). The input
// series of the unit tests are checked the same way, so that they model
// the series a node exports.
//
// The metrics exported, with their labels, are read from the nodes of
// TestDashboardMetricsExist (exportedMetricLabels): every part of riskgate
// assembled, the memory store's in a node of its own. Then the check is
// shown to fail on the rules with one name misspelt, of each kind.
func TestAlertRulesMetricsExist(t *testing.T) {
	exported, _ := exportedMetricLabels(t)
	// The rules file and the promtool test files, by name.
	paths, err := filepath.Glob(filepath.Join(alertRulesDir, "riskgate.rules*.yaml"))
	if err != nil || len(paths) < 2 {
		t.Fatalf("no rules and promtool test files in %s: %v", alertRulesDir, err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		if files[filepath.Base(p)], err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range alertRulesProblems(t, files, exported) {
		t.Error(p)
	}
	if t.Failed() {
		return
	}

	// The check can fail: each misspelling below, in a copy of the
	// files, is a problem it reports.
	for _, tc := range []struct {
		what, file, old, new string
	}{
		{"a metric", alertRulesFile, `riskgate_store_up{`, `riskgate_store_upp{`},
		{"a histogram's metric", alertRulesFile, `riskgate_score_duration_seconds_bucket{`, `riskgate_scoring_duration_seconds_bucket{`},
		{"a matcher's label", alertRulesFile, `table="profiles"`, `tables="profiles"`},
		{"a by's label", alertRulesFile, `by (job, instance, sink, reason)`, `by (job, instance, sink, reasons)`},
		{"an annotation's label", alertRulesFile, `{{ $labels.tenant }}`, `{{ $labels.tenants }}`},
		{"a test's input series", "riskgate.rules_test.yaml", `series: 'riskgate_kafka_connected{`, `series: 'riskgate_kafka_connect{`},
		{"a test's input label", "riskgate.rules_test.yaml", `reason="queue_full"`, `cause="queue_full"`},
	} {
		if !bytes.Contains(files[tc.file], []byte(tc.old)) {
			t.Errorf("%s: %s no longer has %s: pick another name to misspell", tc.what, tc.file, tc.old)
			continue
		}
		misspelt := maps.Clone(files)
		misspelt[tc.file] = bytes.Replace(files[tc.file], []byte(tc.old), []byte(tc.new), 1)
		if len(alertRulesProblems(t, misspelt, exported)) == 0 {
			t.Errorf("%s misspelt (%s for %s in %s): the check finds nothing", tc.what, tc.new, tc.old, tc.file)
		}
	}
}

// alertRulesProblems checks the rules file and the promtool test files,
// by name, against the metrics exported, with their labels, and returns
// the problems found.
func alertRulesProblems(t *testing.T, files map[string][]byte, exported map[string]map[string]bool) []string {
	t.Helper()
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var rf struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Record      string            `yaml:"record"`
				Expr        string            `yaml:"expr"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(files[alertRulesFile], &rf); err != nil || len(rf.Groups) == 0 {
		t.Fatalf("%s: no rule groups (%v)", alertRulesFile, err)
	}
	// Recording rules' names are metrics too (none today; were there
	// one, its labels would be checked as target labels only).
	recorded := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	// labelsOf returns the labels of a metric as a selector names it (a
	// histogram's _bucket, _count and _sum by its base name's), and
	// whether it is one.
	labelsOf := func(name string) ([]string, bool) {
		if ls, ok := prometheusMetrics[name]; ok {
			return append(slices.Clone(targetLabels), ls...), true
		}
		if recorded[name] {
			return slices.Clone(targetLabels), true
		}
		out := slices.Clone(targetLabels)
		ls, ok := exported[name]
		if !ok {
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				if base, cut := strings.CutSuffix(name, suf); cut && exported[base] != nil {
					ls, ok = exported[base], true
					if suf == "_bucket" {
						out = append(out, "le")
					}
				}
			}
		}
		if !ok {
			return nil, false
		}
		for l := range ls {
			out = append(out, l)
		}
		return sorted(out), true
	}

	rulesSeen := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			rulesSeen++
			sel, grouping, err := scanPromQL(r.Expr)
			if err != nil {
				problem("%s: %v", name, err)
				continue
			}
			if len(sel) == 0 {
				problem("%s: no metric found in its expression: %s", name, r.Expr)
			}
			// The labels any metric of the expression has: what a
			// by (...), on (...) or an annotation may name.
			anyLabel := map[string]bool{}
			for _, s := range sel {
				ls, ok := labelsOf(s.metric)
				if !ok {
					problem("%s selects %s, which riskgate does not export", name, s.metric)
					continue
				}
				for _, l := range ls {
					anyLabel[l] = true
				}
				for _, l := range s.labels {
					if !slices.Contains(ls, l) {
						problem("%s matches %s on the label %q, which it does not have (it has %s)", name, s.metric, l, strings.Join(ls, ", "))
					}
				}
			}
			for _, l := range grouping {
				if !anyLabel[l] {
					problem("%s groups or matches by the label %q, which none of its metrics has", name, l)
				}
			}
			for k, text := range r.Annotations {
				for _, m := range templateLabel.FindAllStringSubmatch(text, -1) {
					if !anyLabel[m[1]] {
						problem("%s: annotation %s uses $labels.%s, which none of its metrics has", name, k, m[1])
					}
				}
			}
		}
	}
	if rulesSeen < 30 {
		t.Fatalf("only %d rules found in %s: is it empty?", rulesSeen, alertRulesFile)
	}

	// The promtool tests' input series.
	for _, file := range slices.Sorted(maps.Keys(files)) {
		if file == alertRulesFile {
			continue
		}
		var tf struct {
			Tests []struct {
				Name        string `yaml:"name"`
				InputSeries []struct {
					Series string `yaml:"series"`
				} `yaml:"input_series"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(files[file], &tf); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		series := 0
		for _, tc := range tf.Tests {
			for _, in := range tc.InputSeries {
				series++
				sel, _, err := scanPromQL(in.Series)
				if err != nil || len(sel) != 1 {
					problem("%s, test %q: series %s is not one metric with its labels (%v)", file, tc.Name, in.Series, err)
					continue
				}
				ls, ok := labelsOf(sel[0].metric)
				if !ok {
					problem("%s, test %q: input series %s, which riskgate does not export", file, tc.Name, sel[0].metric)
					continue
				}
				for _, l := range sel[0].labels {
					if !slices.Contains(ls, l) {
						problem("%s, test %q: input series %s has the label %q, which riskgate's does not have (it has %s)", file, tc.Name, sel[0].metric, l, strings.Join(ls, ", "))
					}
				}
			}
		}
		if series == 0 {
			t.Fatalf("%s: no input series: is it a promtool test file?", file)
		}
	}
	return problems
}

// templateLabel is a label an annotation's template reads.
var templateLabel = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// promSelector is a metric an expression selects, with the labels its
// matchers name.
type promSelector struct {
	metric string
	labels []string
}

// promKeywords are PromQL's words that are neither metrics nor functions.
var promKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"inf": true, "nan": true,
}

// promGrouping are the modifiers whose parenthesised list is label names.
var promGrouping = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// promAggregations are the aggregation operators, which a by or without
// may follow before their parenthesis.
var promAggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// scanPromQL finds the metrics a PromQL expression selects, with the
// label names of their matchers, and the label names of its by, without,
// on, ignoring, group_left and group_right lists. It is a tokenizer, not
// a parser (promtool check rules parses the rules): enough to find every
// name a misspelling could hide in, and it refuses what it does not know
// (a selector with no metric name) rather than skip it.
func scanPromQL(expr string) (sel []promSelector, grouping []string, err error) {
	toks, err := promTokens(expr)
	if err != nil {
		return nil, nil, err
	}
	next := func(i int) string {
		if i+1 < len(toks) {
			return toks[i+1]
		}
		return ""
	}
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		switch {
		case tok == "{":
			return nil, nil, fmt.Errorf("a selector without a metric name at token %d of %q: name the metric", i, expr)
		case !isIdent(tok):
			continue
		case promGrouping[tok]:
			if next(i) != "(" {
				continue // group_left without a list
			}
			for i += 2; i < len(toks) && toks[i] != ")"; i++ {
				if isIdent(toks[i]) {
					grouping = append(grouping, toks[i])
				}
			}
		case next(i) == "(", promKeywords[strings.ToLower(tok)], promAggregations[tok]:
			// A function, an aggregation or a keyword.
		default:
			s := promSelector{metric: tok}
			if next(i) == "{" {
				// name op "value" [, ...] }
				for i += 2; i < len(toks) && toks[i] != "}"; i++ {
					if isIdent(toks[i]) {
						s.labels = append(s.labels, toks[i])
					}
				}
			}
			sel = append(sel, s)
		}
	}
	return sel, grouping, nil
}

// promTokens splits a PromQL expression into identifiers, numbers and
// durations, strings (as a single token "\"\""), and punctuation, one
// character each.
func promTokens(expr string) ([]string, error) {
	var toks []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // a comment, to the end of the line
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for ; j < len(expr) && expr[j] != c; j++ {
				if expr[j] == '\\' && c != '`' {
					j++
				}
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string in %q", expr)
			}
			toks = append(toks, `""`)
			i = j + 1
		case c >= '0' && c <= '9' || c == '.':
			// A number or a duration (5m, 1w, 1h30m, 1e3, 0.025).
			j := i
			for j < len(expr) && (isIdentChar(expr[j]) || expr[j] == '.') {
				j++
			}
			toks = append(toks, "0")
			i = j
		case isIdentStart(c):
			j := i
			for j < len(expr) && (isIdentChar(expr[j]) || expr[j] == ':') {
				j++
			}
			toks = append(toks, expr[i:j])
			i = j
		default:
			toks = append(toks, string(c))
			i++
		}
	}
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isIdent(tok string) bool { return tok != "" && isIdentStart(tok[0]) }

// TestScanPromQL: the tokenizer finds every metric and label name of the
// expressions the rules use, and no other word.
func TestScanPromQL(t *testing.T) {
	for _, tc := range []struct {
		expr     string
		sel      []promSelector
		grouping []string
	}{
		{`up{job="riskgate"} == 0`, []promSelector{{"up", []string{"job"}}}, nil},
		{`absent(up{job="riskgate"} == 1)`, []promSelector{{"up", []string{"job"}}}, nil},
		{
			`sum by (job, instance) (rate(a_total{job="riskgate", code=~"5..", route!~"GET /(healthz|readyz)"}[5m])) / on (job) group_left sum without (le) (rate(b_total[5m] offset 1w)) > 0.01`,
			[]promSelector{{"a_total", []string{"job", "code", "route"}}, {"b_total", nil}},
			[]string{"job", "instance", "job", "le"},
		},
		{
			`histogram_quantile(0.99, sum by (job, le) (rate(h_bucket{method=~"/riskgate\\.v1\\.RiskService/(Score|Report)"}[5m]))) > 0.025`,
			[]promSelector{{"h_bucket", []string{"method"}}}, []string{"job", "le"},
		},
		{`x - time() < 14 * 86400 and x unless x offset 15m or printf`, []promSelector{{"x", nil}, {"x", nil}, {"x", nil}, {"printf", nil}}, nil},
		{`count by (job) (count by (job, version) (v{job="riskgate"})) > 1`, []promSelector{{"v", []string{"job"}}}, []string{"job", "job", "version"}},
	} {
		sel, grouping, err := scanPromQL(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if fmt.Sprint(sel) != fmt.Sprint(tc.sel) || fmt.Sprint(grouping) != fmt.Sprint(tc.grouping) {
			t.Errorf("%s:\n got %v %v\nwant %v %v", tc.expr, sel, grouping, tc.sel, tc.grouping)
		}
	}
	if _, _, err := scanPromQL(`sum({__name__="x"})`); err == nil {
		t.Error("a selector without a metric name is not refused")
	}
}
