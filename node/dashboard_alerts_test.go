package node_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDashboardRatiosAsAlerts: the panels that show what an alert pages
// on select the same series as the alert, matcher for matcher, so that
// on-call, paged, finds on the dashboard the number the alert fired on.
// The Error ratio panel's gRPC query once counted every code but OK,
// InvalidArgument and NotFound as a server failure: a client with a
// wrong token (Unauthenticated) or one that gave up (Canceled) drew a
// 100% error ratio while RiskgateGRPCServerErrors, rightly, stayed
// silent; and its HTTP query counted /readyz's 503s (a node not ready),
// which the alert leaves out. Each case names a panel's query, an
// alert, and the metric whose selectors, in order, must agree (the job
// matcher aside: the dashboard's is its variable).
func TestDashboardRatiosAsAlerts(t *testing.T) {
	dash := readDashboard(t)
	alerts := alertExprs(t)
	for _, tc := range []struct {
		panel, refID, alert, metric string
	}{
		{"Error ratio", "A", "RiskgateGRPCServerErrors", "riskgate_grpc_requests_total"},
		{"Error ratio", "B", "RiskgateHTTPServerErrors", "riskgate_http_requests_total"},
		{"Auth refusals/s", "A", "RiskgateAuthFailures", "riskgate_grpc_requests_total"},
		{"Auth refusals/s", "B", "RiskgateAuthFailures", "riskgate_http_requests_total"},
	} {
		t.Run(tc.panel+"/"+tc.refID, func(t *testing.T) {
			expr, ok := alerts[tc.alert]
			if !ok {
				t.Fatalf("no alert %s in %s", tc.alert, alertRulesFile)
			}
			var query string
			for _, p := range dash.Panels {
				for _, tg := range p.Targets {
					if p.Title == tc.panel && tg.RefID == tc.refID {
						query = tg.Expr
					}
				}
			}
			if query == "" {
				t.Fatalf("no query %s in a panel %q", tc.refID, tc.panel)
			}
			want := selectorsOf(t, tc.alert, expr, tc.metric)
			got := selectorsOf(t, tc.panel, query, tc.metric)
			if len(want) == 0 {
				t.Fatalf("%s selects no %s: %s", tc.alert, tc.metric, expr)
			}
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("panel %q, query %s selects %s as %v; %s selects it as %v", tc.panel, tc.refID, tc.metric, got, tc.alert, want)
			}
		})
	}
}

// alertExprs returns the expressions of the alerting rules, by alert.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(alertRulesDir, alertRulesFile))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range parseRulesFile(t, data).Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out[r.Alert] = r.Expr
			}
		}
	}
	return out
}

// selectorsOf returns the matchers of each selector of metric in expr, in
// the order they come, each as a sorted list of `label op "value"` with
// the job's left out; where is the rule or panel, for a matcher not
// understood.
func selectorsOf(t *testing.T, where, expr, metric string) [][]string {
	t.Helper()
	var out [][]string
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(metric) + `\{([^}]*)\}`)
	for _, sel := range re.FindAllStringSubmatch(expr, -1) {
		var ms []string
		for _, m := range matcherRef.FindAllStringSubmatch(sel[1], -1) {
			if m[1] != "job" {
				ms = append(ms, m[1]+m[2]+m[3])
			}
		}
		if rest := strings.Trim(matcherRef.ReplaceAllString(sel[1], ""), " ,\n"); rest != "" {
			t.Fatalf("%s: matchers not understood in %s: %q", where, sel[0], rest)
		}
		slices.Sort(ms)
		out = append(out, ms)
	}
	return out
}
