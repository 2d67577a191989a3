package node

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/rules"
)

// TestRuleMatchSeriesAtZero: a node's shared rules have their match
// counters at 0 from the start, and a rule put in force later from its
// put, so that increase() counts each rule's first match: a rule that
// matches rarely is the one a SOC alerts on.
func TestRuleMatchSeriesAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	n, err := New(context.Background(), Config{}, WithRegistry(reg), WithSecret([]byte("rule-matches-test-secret-0123")), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	matches := func() map[string]float64 {
		t.Helper()
		return seriesValues(t, reg, "riskgate_rule_matches_total", "rule", "mode")
	}
	inForce := n.Rules().Snapshot().Set.Rules()
	got := matches()
	if len(got) != 2*len(inForce) {
		t.Errorf("%d match series at start, want %d (each built-in rule, both modes)", len(got), 2*len(inForce))
	}
	for _, r := range inForce {
		for _, mode := range []string{"enforce", "shadow"} {
			if v, ok := got[r.ID+" "+mode]; !ok || v != 0 {
				t.Errorf("%s/%s: %v (present %v), want 0", r.ID, mode, v, ok)
			}
		}
	}

	const honeypot = "version: honeypot\nrules:\n  - id: honeypot-account\n    description: The decoy account.\n    when: attempt.user_id == \"decoy\"\n    action: deny\n"
	if _, err := n.Rules().Put("", []rules.Source{{Name: "rules.yaml", Data: []byte(honeypot)}}); err != nil {
		t.Fatal(err)
	}
	if v, ok := matches()["honeypot-account enforce"]; !ok || v != 0 {
		t.Errorf("a rule put in force: honeypot-account/enforce %v (present %v), want 0 before its first match", v, ok)
	}
}
