package node_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDashboardLabelsExist: every label a query of the Grafana dashboard
// names (in a matcher, or a by, without, on or ignoring) is one of its
// metrics' or a target label, and every value an = matcher or a listed
// =~ of the dashboard or of the alerting rules selects is one a node
// exports. TestDashboardMetricsExist checks the dashboard's metric names
// only, and TestAlertRulesMetricsExist the rules' label names: a panel's
// sum by (lisener) or a kind="tor-exits" would leave a panel flat or
// an alert silent for ever, and nothing said so. The values are those of
// the nodes of TestDashboardMetricsExist (every part, a Tor exit list
// included) before any call and after their one call; a latency
// histogram's series come with the first request of their route, so its
// values are looked for among every series with that label.
func TestDashboardLabelsExist(t *testing.T) {
	exported, scrape, atStart := exportedNodeMetrics(t)
	values := labelValuesOf(seriesByName(atStart), scrape)

	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	labelsOf := func(metric string) (map[string]bool, bool) {
		out := map[string]bool{}
		for _, l := range targetLabels {
			out[l] = true
		}
		ls, ok := exported[metric]
		if !ok {
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				if base, cut := strings.CutSuffix(metric, suf); cut && exported[base] != nil {
					ls, ok = exported[base], true
					if suf == "_bucket" {
						out["le"] = true
					}
				}
			}
		}
		for l := range ls {
			out[l] = true
		}
		return out, ok
	}

	queries := dashboardQueries(t, filepath.Join("..", "deploy", "grafana", "riskgate.json"))
	for _, q := range queries {
		sel, grouping, err := scanPromQL(q.promql)
		if err != nil {
			problem("%s: %v", q.where, err)
			continue
		}
		anyLabel := map[string]bool{}
		for _, s := range sel {
			ls, ok := labelsOf(s.metric)
			if !ok {
				continue // TestDashboardMetricsExist says so
			}
			for l := range ls {
				anyLabel[l] = true
			}
			for _, l := range s.labels {
				if !ls[l] {
					problem("%s matches %s on the label %q, which it does not have", q.where, s.metric, l)
				}
			}
		}
		for _, l := range grouping {
			if !anyLabel[l] {
				problem("%s groups by the label %q, which none of its metrics has", q.where, l)
			}
		}
		if m := labelValues.FindStringSubmatch(q.expr); m != nil && !anyLabel[m[2]] {
			problem("%s lists the values of %q, which its metric does not have", q.where, m[2])
		}
		problems = append(problems, missingValues(q.where, q.promql, values)...)
	}
	for name, expr := range alertExprs(t) {
		problems = append(problems, missingValues(name, expr, values)...)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(queries) < 30 {
		t.Fatalf("only %d dashboard queries: is the dashboard empty?", len(queries))
	}
	if t.Failed() {
		return
	}

	// The check can fail: a label name or value misspelt, in a query, is
	// reported.
	for _, tc := range []struct{ what, expr string }{
		{"a grouping", `sum by (lisener) (riskgate_tls_certificate_expiry_timestamp_seconds{job=~".*"})`},
		{"a matcher's label", `riskgate_rule_matches_total{job=~".*", modes="shadow"}`},
		{"a matcher's value", `riskgate_iplist_file_modified_timestamp_seconds{job=~".*", kind="tor-exits"}`},
		{"a listed value", `riskgate_decisions_total{job=~".*", action=~"deny|stepup"}`},
	} {
		sel, grouping, err := scanPromQL(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		found := len(missingValues(tc.what, tc.expr, values)) > 0
		for _, s := range sel {
			ls, _ := labelsOf(s.metric)
			for _, l := range s.labels {
				found = found || !ls[l]
			}
			for _, l := range grouping {
				found = found || !ls[l]
			}
		}
		if !found {
			t.Errorf("%s misspelt (%s): the check finds nothing", tc.what, tc.expr)
		}
	}
}

// labelValuesOf returns the values each label has on each metric, by
// metric name as a selector names it (a histogram's _bucket, _count and
// _sum apart), from the series gathered and a /metrics scrape; under ""
// the values a label has on any metric.
func labelValuesOf(gathered map[string][]map[string]string, scrape []byte) map[string]map[string]map[string]bool {
	out := map[string]map[string]map[string]bool{}
	add := func(metric, label, value string) {
		for _, m := range []string{metric, ""} {
			if out[m] == nil {
				out[m] = map[string]map[string]bool{}
			}
			if out[m][label] == nil {
				out[m][label] = map[string]bool{}
			}
			out[m][label][value] = true
		}
	}
	for metric, series := range gathered {
		for _, ls := range series {
			for l, v := range ls {
				add(metric, l, v)
			}
		}
	}
	for line := range strings.Lines(string(scrape)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		for _, m := range scrapeLabel.FindAllStringSubmatch(rest, -1) {
			if v, err := strconv.Unquote(`"` + m[2] + `"`); err == nil {
				add(name, m[1], v)
			}
		}
	}
	return out
}

var scrapeLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// missingValues returns a problem for each value that an = matcher, or a
// listed =~, of expr selects and that no series of its metric has (of a
// histogram's buckets: no series of any metric). The job matcher, the
// target labels' and Grafana's variables are not checked.
func missingValues(where, expr string, values map[string]map[string]map[string]bool) []string {
	var problems []string
	for _, sel := range selectorRef.FindAllStringSubmatch(expr, -1) {
		metric := sel[1]
		for _, m := range matcherRef.FindAllStringSubmatch(sel[2], -1) {
			name, op := m[1], m[2]
			if slices.Contains(targetLabels, name) || op == "!=" || op == "!~" {
				continue
			}
			v, err := strconv.Unquote(m[3])
			if err != nil || strings.Contains(v, "$") {
				continue
			}
			want := []string{v}
			if op == "=~" {
				if want = finiteLanguage(v); want == nil {
					continue
				}
			}
			have := values[metric][name]
			if strings.HasSuffix(metric, "_bucket") {
				have = values[""][name]
			}
			for _, w := range want {
				if !have[w] {
					problems = append(problems, fmt.Sprintf("%s selects %s{%s=%q}, and no node exports that value", where, metric, name, w))
				}
			}
		}
	}
	return problems
}

// selectorRef is a metric selector with its matchers.
var selectorRef = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
