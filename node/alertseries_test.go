package node_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"
)

// TestAlertRulesSeriesExistAtStart: every series that an alerting rule
// reads with increase() or rate() exists, at 0, on a node that has the
// part counting it, before any call or event. Prometheus computes
// increase() and rate() from two samples of a series: a series that
// first appears at 1 (a CounterVec child created by its first Inc) has
// no sample before it, so its first event counts for nothing, and an
// "any in the window" alert (a refused Kafka message, a dropped security
// alert, a failed GeoIP reload) stays silent for it, for a rare event
// for good.
//
// The series wanted are derived from the rules file: each selector
// inside increase(...) or rate(...) with its label matchers. A matcher
// whose values can be listed (an =, or an =~ of a finite set such as
// "401|403" or "POST /v1/(score|outcome)") wants a series for each of
// its values, the combinations of several such matchers each; the other
// matchers (a !=, a !~, an =~ such as "5..") must hold on that series
// too. A selector without such a matcher wants one series of its metric.
// The series are those of the nodes of TestDashboardMetricsExist (every
// part assembled: Redis, Kafka, GeoIP, IP lists, the breached filter,
// alert and notification sinks, the capture; the memory store's node),
// gathered as /metrics serves them, before the first node's one call.
// Then the check is shown to fail on a rule selecting a label value no
// node pre-creates.
func TestAlertRulesSeriesExistAtStart(t *testing.T) {
	exported, _, atStart := exportedNodeMetrics(t)
	rules, err := os.ReadFile(filepath.Join(alertRulesDir, alertRulesFile))
	if err != nil {
		t.Fatal(err)
	}
	// Latency histograms are read by histogram_quantile over many
	// observations, which one missed at a series' birth does not move;
	// a node leaves them to their first request (metrics.KnownRoutes).
	wanted := slices.DeleteFunc(rateSelectors(t, rules), func(s rateSelector) bool { return strings.HasSuffix(s.metric, "_bucket") })
	if len(wanted) < 20 {
		t.Fatalf("only %d selectors in increase() or rate() found in %s: is the scan broken?", len(wanted), alertRulesFile)
	}
	series := seriesByName(atStart)
	for _, p := range missingAtStart(t, wanted, series, exported) {
		t.Error(p)
	}
	if t.Failed() {
		return
	}

	// The check can fail: a selector of a label value that no node
	// creates before its event, in a copy of the rules, is reported.
	for _, tc := range []struct{ old, new string }{
		{`riskgate_alert_reopens_total{job="riskgate", result="failure"}`, `riskgate_alert_reopens_total{job="riskgate", result="failed"}`},
		{`code=~"401|403"`, `code=~"401|403|418"`},
	} {
		if !strings.Contains(string(rules), tc.old) {
			t.Errorf("%s no longer has %s: pick another selector to change", alertRulesFile, tc.old)
			continue
		}
		changed := strings.Replace(string(rules), tc.old, tc.new, 1)
		if len(missingAtStart(t, rateSelectors(t, []byte(changed)), series, exported)) == 0 {
			t.Errorf("with %s for %s, the check finds nothing missing", tc.new, tc.old)
		}
	}
}

// rateSelector is a selector a rule reads with increase() or rate().
type rateSelector struct {
	rule, metric string
	matchers     []labelMatcher
}

type labelMatcher struct {
	name, op, value string
	re              *regexp.Regexp // for =~ and !~, anchored as PromQL anchors it
	enumeration     []string       // the values of an = or an =~ of a finite set
}

func (m labelMatcher) matches(v string) bool {
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	case "=~":
		return m.re.MatchString(v)
	default: // !~
		return !m.re.MatchString(v)
	}
}

// rateCall is increase( or rate( with the selector it reads: a metric
// name, its matchers, then a range.
var rateCall = regexp.MustCompile(`\b(?:increase|rate)\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*\[`)

// matcherRef is one label matcher in a selector's braces.
var matcherRef = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")`)

// rulesFile is a Prometheus rules file's rules, as far as the tests read
// them: each one's alert name and expression.
type rulesFile struct {
	Groups []struct {
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func parseRulesFile(t *testing.T, data []byte) rulesFile {
	t.Helper()
	var rf rulesFile
	if err := yaml.Unmarshal(data, &rf); err != nil {
		t.Fatal(err)
	}
	return rf
}

// rateSelectors returns the selectors the rules of a rules file read with
// increase() or rate(), with their matchers parsed.
func rateSelectors(t *testing.T, rulesFile []byte) []rateSelector {
	t.Helper()
	var out []rateSelector
	for _, g := range parseRulesFile(t, rulesFile).Groups {
		for _, r := range g.Rules {
			for _, call := range rateCall.FindAllStringSubmatch(r.Expr, -1) {
				s := rateSelector{rule: r.Alert, metric: call[1]}
				inner := strings.Trim(call[2], "{}")
				for _, m := range matcherRef.FindAllStringSubmatch(inner, -1) {
					v, err := strconv.Unquote(m[3])
					if err != nil {
						t.Fatalf("%s: matcher %s: %v", r.Alert, m[0], err)
					}
					lm := labelMatcher{name: m[1], op: m[2], value: v}
					switch lm.op {
					case "=":
						lm.enumeration = []string{v}
					case "=~", "!~":
						if lm.re, err = regexp.Compile("^(?:" + v + ")$"); err != nil {
							t.Fatalf("%s: matcher %s: %v", r.Alert, m[0], err)
						}
						if lm.op == "=~" {
							lm.enumeration = finiteLanguage(v)
						}
					}
					s.matchers = append(s.matchers, lm)
				}
				// Every matcher the braces hold was read: a form the
				// pattern does not know would be skipped silently.
				if rest := strings.Trim(matcherRef.ReplaceAllString(inner, ""), " ,\n"); strings.Trim(rest, " ,") != "" {
					t.Fatalf("%s: matchers not understood in %s: %q", r.Alert, call[2], rest)
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// finiteLanguage returns the strings a regular expression matches when
// they are few and listed in it (literals, alternations, groups: "a|b",
// "x/(c|d)"), and nil otherwise ("5..", a repetition, a case fold).
func finiteLanguage(re string) []string {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil
	}
	const most = 64
	var walk func(r *syntax.Regexp) []string
	walk = func(r *syntax.Regexp) []string {
		switch r.Op {
		case syntax.OpEmptyMatch:
			return []string{""}
		case syntax.OpLiteral:
			if r.Flags&syntax.FoldCase != 0 {
				return nil
			}
			return []string{string(r.Rune)}
		case syntax.OpCapture:
			return walk(r.Sub[0])
		case syntax.OpCharClass:
			// A class of a few runes, as the parser makes of "401|403"
			// (40[13]).
			var out []string
			for i := 0; i+1 < len(r.Rune); i += 2 {
				for c := r.Rune[i]; c <= r.Rune[i+1]; c++ {
					if out = append(out, string(c)); len(out) > 10 {
						return nil
					}
				}
			}
			return out
		case syntax.OpAlternate:
			var out []string
			for _, sub := range r.Sub {
				s := walk(sub)
				if s == nil || len(out)+len(s) > most {
					return nil
				}
				out = append(out, s...)
			}
			return out
		case syntax.OpConcat:
			out := []string{""}
			for _, sub := range r.Sub {
				s := walk(sub)
				if s == nil || len(out)*len(s) > most {
					return nil
				}
				var next []string
				for _, a := range out {
					for _, b := range s {
						next = append(next, a+b)
					}
				}
				out = next
			}
			return out
		}
		return nil
	}
	return walk(parsed)
}

// TestFiniteLanguage: the matchers the rules use are listed, or not, as
// they should be.
func TestFiniteLanguage(t *testing.T) {
	for re, want := range map[string][]string{
		"401|403": {"401", "403"},
		"Unknown|Internal|Unavailable|DataLoss|DeadlineExceeded": {"DataLoss", "DeadlineExceeded", "Internal", "Unavailable", "Unknown"},
		`/riskgate\.v1\.RiskService/(Score|Report)`:              {"/riskgate.v1.RiskService/Report", "/riskgate.v1.RiskService/Score"},
		"POST /v1/(score|outcome|kratos/login)":                  {"POST /v1/kratos/login", "POST /v1/outcome", "POST /v1/score"},
		"5..":                                                    nil,
		"GET /(healthz|readyz)":                                  {"GET /healthz", "GET /readyz"},
		"a+":                                                     nil,
		"(?i)abc":                                                nil,
	} {
		got := finiteLanguage(re)
		slices.Sort(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("finiteLanguage(%q) = %q, want %q", re, got, want)
		}
	}
}

// seriesByName returns the series of metric families by the names a
// selector uses: a histogram's as name_bucket (one per le) and
// name_count, each with its labels.
func seriesByName(mfs []*dto.MetricFamily) map[string][]map[string]string {
	out := map[string][]map[string]string{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			ls := map[string]string{}
			for _, lp := range m.GetLabel() {
				ls[lp.GetName()] = lp.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				out[mf.GetName()+"_count"] = append(out[mf.GetName()+"_count"], ls)
				out[mf.GetName()+"_sum"] = append(out[mf.GetName()+"_sum"], ls)
				for _, b := range h.GetBucket() {
					bl := maps.Clone(ls)
					bl["le"] = strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)
					out[mf.GetName()+"_bucket"] = append(out[mf.GetName()+"_bucket"], bl)
				}
				continue
			}
			out[mf.GetName()] = append(out[mf.GetName()], ls)
		}
	}
	return out
}

// callerLabels are the labels whose values the callers name, not the
// node's configuration: no series of a metric with one can exist before
// a call names its value (a tenant: --metrics-max-tenants of them get
// their own series, the rest count as other). A selector that does not
// fix such a label's value wants no series at start; one that does is
// checked as any other.
var callerLabels = map[string]bool{"tenant": true}

// missingAtStart returns a problem for each series wanted by a selector
// that the nodes do not export at start; exported are the metrics' label
// names.
func missingAtStart(t *testing.T, wanted []rateSelector, series map[string][]map[string]string, exported map[string]map[string]bool) []string {
	t.Helper()
	var problems []string
	seen := map[string]bool{}
	for _, s := range wanted {
		if callerLabel(s, exported) {
			continue
		}
		// The combinations of the enumerated matchers' values; the
		// target labels (job, instance) are Prometheus's, not the node's.
		combos := []map[string]string{{}}
		var rest []labelMatcher
		for _, m := range s.matchers {
			if slices.Contains(targetLabels, m.name) {
				continue
			}
			if m.enumeration == nil {
				rest = append(rest, m)
				continue
			}
			var next []map[string]string
			for _, c := range combos {
				for _, v := range m.enumeration {
					n := maps.Clone(c)
					n[m.name] = v
					next = append(next, n)
				}
			}
			combos = next
		}
		for _, c := range combos {
			found := slices.ContainsFunc(series[s.metric], func(ls map[string]string) bool {
				for k, v := range c {
					if ls[k] != v {
						return false
					}
				}
				for _, m := range rest {
					if !m.matches(ls[m.name]) {
						return false
					}
				}
				return true
			})
			if found {
				continue
			}
			desc := s.metric + "{" + describeWanted(c, rest) + "}"
			if !seen[desc] {
				seen[desc] = true
				problems = append(problems, fmt.Sprintf("%s reads %s with increase() or rate(), and no node exports it before its first event: its first event would count for nothing", s.rule, desc))
			}
		}
	}
	return problems
}

// callerLabel reports whether the selector's metric has a label of
// callerLabels that the selector does not fix to a value.
func callerLabel(s rateSelector, exported map[string]map[string]bool) bool {
	base := s.metric
	for _, suf := range []string{"_bucket", "_count", "_sum"} {
		if b, ok := strings.CutSuffix(s.metric, suf); ok && exported[b] != nil {
			base = b
		}
	}
	for l := range exported[base] {
		if !callerLabels[l] {
			continue
		}
		fixed := slices.ContainsFunc(s.matchers, func(m labelMatcher) bool { return m.name == l && m.enumeration != nil })
		if !fixed {
			return true
		}
	}
	return false
}

func describeWanted(values map[string]string, rest []labelMatcher) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(values)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, values[k]))
	}
	for _, m := range rest {
		parts = append(parts, fmt.Sprintf("%s%s%q", m.name, m.op, m.value))
	}
	return strings.Join(parts, ", ")
}
