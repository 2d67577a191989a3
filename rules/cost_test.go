package rules

import (
	"errors"
	"fmt"
	"slices"
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
		// Strings cost their length: a step per 256 bytes built.
		{`len(repeat(attempt.user_agent, 2)) > 5`, ""},
		{`repeat("ab", 3) == attempt.user_agent`, ""},
		{`len(repeat(attempt.user_agent, 100000)) > 5`, "too costly"},
		{`len(repeat(attempt.user_agent, ip.failures_10m)) > 5`, "repeat's count must be an integer constant"},
		{`len(repeat(repeat(attempt.user_agent, 30), 30)) > 1`, "too costly"},
		{`len(replace(attempt.user_agent, "Mozilla", "M")) > 1`, ""},
		{`len(replace(replace(attempt.user_agent, "", attempt.user_agent), "", attempt.user_agent)) > 1`, "too costly"},
		{`len(attempt.user_agent + attempt.channel) > 1`, ""},
		{`let a = attempt.user_agent + attempt.user_agent; let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; let g = f + f; let h = g + g; len(h + h) > 1`, "too costly"},
		{`reduce(1..20, #acc + #acc, attempt.user_agent) != ""`, "reduce cannot build a string"},
		{`reduce(split(attempt.user_agent, " "), #acc + #acc) != ""`, "reduce cannot build a string"},
		{`reduce(1..20, #acc + #) > ip.failures_10m`, ""},
		{`reduce(1..20, #acc + #, 0) > ip.failures_10m`, ""},
		{`len(join(split(attempt.user_agent, ""), attempt.user_agent)) > 1`, "too costly"},
		{`any(split(attempt.user_agent, ""), {# == "x"})`, "too costly"},
		{`sprintf(attempt.user_agent, 1) != ""`, "sprintf's format must be a constant string"},
		{`sprintf("%0999999d", ip.failures_10m) != ""`, "too costly"},
		{`sprintf("%d failures from %s", ip.failures_10m, attempt.user_agent) != ""`, ""},
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
	for _, c := range costs {
		if c.Failed != nil {
			t.Errorf("%s fails on an empty attempt: %v", c.RuleID, c.Failed)
		}
	}
}

// TestMeasureNamesRulesFailingOnAnEmptyAttempt: Measure says which rules
// fail at run time on the empty attempt, and WriteFailing warns of them
// alone (rules check passed them without a word: such a rule fails on
// every login without what it reads, counted as not matched).
func TestMeasureNamesRulesFailingOnAnEmptyAttempt(t *testing.T) {
	s, err := Compile(Source{Name: "r.yaml", Data: []byte(`rules:
  - id: unguarded
    description: An attribute converted without a guard.
    when: int(attempt.attributes["n"]) > 3
    score: 1
  - id: first-list
    description: The first list, on an address in none.
    when: ip.lists[0] == "x"
    score: 1
  - id: guarded
    description: The same, guarded.
    when: attempt.attributes["n"] != "" && int(attempt.attributes["n"]) > 3
    score: 1
  - id: plain
    description: A field.
    when: device.new
    score: 1
`)})
	if err != nil {
		t.Fatal(err)
	}
	costs := s.Measure(time.Microsecond)
	for _, tc := range []struct{ rule, failed string }{
		{"unguarded", "when: conversion error at line 1, column 1"},
		{"first-list", "when: index error at line 1, column 9"},
		{"guarded", ""},
		{"plain", ""},
	} {
		i := slices.IndexFunc(costs, func(c RuleCost) bool { return c.RuleID == tc.rule })
		if i < 0 {
			t.Fatalf("%s not measured", tc.rule)
		}
		got := ""
		if costs[i].Failed != nil {
			got = costs[i].Failed.Error()
		}
		if got != tc.failed {
			t.Errorf("%s: failed %q, want %q", tc.rule, got, tc.failed)
		}
	}
	if got := s.FailingOnEmpty(); len(got) != 2 || got[0].RuleID != "unguarded" || got[1].RuleID != "first-list" ||
		got[0].Failed.Error() != "when: conversion error at line 1, column 1" {
		t.Errorf("FailingOnEmpty: %v", got)
	}
	var out strings.Builder
	WriteFailing(&out, "", costs, nil)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(out.String(), `warning: rule "`) ||
		!strings.Contains(out.String(), `warning: rule "unguarded" fails at run time on an empty attempt (when: conversion error at line 1, column 1)`) {
		t.Errorf("warnings:\n%s", out.String())
	}
}
