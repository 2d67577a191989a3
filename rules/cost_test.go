package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func oneRule(when string) []byte {
	return fmt.Appendf(nil, "rules:\n  - id: r1\n    description: d\n    when: '%s'\n    score: 10\n", when)
}

// TestCostBound: a rule whose cost cannot be bounded, or is over the
// bound, is refused at compile time with its rule id and field; ordinary
// rules, and small loops, pass (issue 10 item 2).
func TestCostBound(t *testing.T) {
	tests := []struct {
		when string
		err  string // "" when the rule compiles
	}{
		{`ip.failures_10m > 5`, ""},
		{`all(1..10, {# < ip.failures_10m})`, ""},
		{`any(keys(attempt.attributes), {# == "x"}) || ip.failures_10m in 1..1000000`, ""},
		{`all(1..999, {all(1..999, {# > ip.failures_10m - 5})})`, "too costly"},
		{`any(1..999, {any(1..999, {# > 1})})`, "too costly"},
		{`count(map(1..5000, {# * 2}), {# > ip.failures_10m}) > 3`, "too costly"},
		{`len(1..100000000) > 1`, "more than 10000"},
		{`any(1..ip.failures_10m, {# > 3})`, "integer constants"},
	}
	for _, tt := range tests {
		_, err := Compile(Source{Name: "cost.yaml", Data: oneRule(tt.when)})
		if tt.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.when, err)
			}
			continue
		}
		var el ErrorList
		if !errors.As(err, &el) || len(el) != 1 {
			t.Errorf("%s: %v, want one error", tt.when, err)
			continue
		}
		if e := el[0]; e.Rule != "r1" || e.Field != "when" || e.Line != 4 || !strings.Contains(e.Error(), tt.err) {
			t.Errorf("%s: %v (rule %q field %q line %d), want %q on rule r1, field when, line 4", tt.when, e, e.Rule, e.Field, e.Line, tt.err)
		}
	}
}

// TestSetCostBound: rules each under the bound that together are over it
// are refused, naming the costliest.
func TestSetCostBound(t *testing.T) {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range 15 {
		fmt.Fprintf(&b, "  - id: r%d\n    description: d\n    when: 'count(1..%d, {# > ip.failures_10m}) > 3'\n    score: 1\n", i, 200+i)
	}
	_, err := Compile(Source{Name: "many.yaml", Data: []byte(b.String())})
	var el ErrorList
	if !errors.As(err, &el) || len(el) != 1 || el[0].Rule != "r14" || !strings.Contains(el[0].Error(), "ruleset is too costly") {
		t.Fatalf("got %v, want the set refused naming r14", err)
	}
}

// TestDefaultRulesCost: the bundled rules are far under the bounds, and
// Measure reports every rule, slowest first.
func TestDefaultRulesCost(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, r := range s.Rules() {
		if r.Cost <= 0 || r.Cost > MaxRuleCost/10 {
			t.Errorf("%s: cost %d", r.ID, r.Cost)
		}
		total += r.Cost
	}
	if total > MaxSetCost/10 {
		t.Errorf("default rules cost %d", total)
	}
	costs := s.Measure(time.Microsecond)
	if len(costs) != len(s.Rules()) {
		t.Fatalf("%d costs for %d rules", len(costs), len(s.Rules()))
	}
	for i := 1; i < len(costs); i++ {
		if costs[i].Measured > costs[i-1].Measured {
			t.Fatalf("not sorted: %v", costs)
		}
	}
}
