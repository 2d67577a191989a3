package rules

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/riskgate/riskgate/engine"
)

// RuleCost is what one rule costs: the estimate Compile bounds, and the
// time one evaluation took when the set was measured.
type RuleCost struct {
	RuleID   string
	Steps    int64         // the estimate (see MaxRuleCost)
	Measured time.Duration // per evaluation, on an empty environment
	// Failed is the rule's failure at run time on the empty environment
	// (a *RuntimeError), nil when it ran: a rule that fails there fails on
	// every login without the fields it reads, counted as not matched,
	// and its Measured is its failure's.
	Failed error
}

// Measure runs every rule on an empty environment and returns the rules'
// costs, the slowest first. Each rule runs for about perRule (at least
// once), so measuring a set of n rules takes about n×perRule.
func (s *Set) Measure(perRule time.Duration) []RuleCost {
	var env engine.Env
	box := envValue(&env)
	m := s.vms.Get().(*vm.VM)
	defer s.vms.Put(m)
	failed := s.runEmpty(m, &env, box) // also a warm-up: the first runs fill caches
	costs := make([]RuleCost, 0, len(s.rules))
	for i := range s.rules {
		r := &s.rules[i]
		start := time.Now()
		n := 0
		for {
			if r.fast != nil {
				r.fast(&env)
			} else {
				_, _ = m.Run(r.when, box)
			}
			n++
			if n >= 1000 || n%16 == 0 && time.Since(start) >= perRule {
				break
			}
		}
		costs = append(costs, RuleCost{RuleID: r.ID, Steps: r.Cost, Measured: time.Since(start) / time.Duration(n), Failed: failed[i]})
	}
	slices.SortStableFunc(costs, func(a, b RuleCost) int { return int(b.Measured - a.Measured) })
	return costs
}

// runEmpty runs every rule's when once on the empty environment env
// (box) and returns each one's failure, nil where it ran.
func (s *Set) runEmpty(m *vm.VM, env *engine.Env, box any) []error {
	failed := make([]error, len(s.rules))
	for i := range s.rules {
		if r := &s.rules[i]; r.fast != nil {
			r.fast(env)
		} else if _, err := m.Run(r.when, box); err != nil {
			failed[i] = runtimeError("when", err)
		}
	}
	return failed
}

// FailingOnEmpty returns the rules that fail at run time on an empty
// attempt, with their failure (RuleCost.Failed; nothing measured), in the
// set's order: each one run once, so cheaply enough to check every
// tenant's overlay.
func (s *Set) FailingOnEmpty() []RuleCost {
	var env engine.Env
	m := s.vms.Get().(*vm.VM)
	defer s.vms.Put(m)
	var out []RuleCost
	for i, err := range s.runEmpty(m, &env, envValue(&env)) {
		if err != nil {
			out = append(out, RuleCost{RuleID: s.rules[i].ID, Steps: s.rules[i].Cost, Failed: err})
		}
	}
	return out
}

// WriteFailing warns, one line each, of the rules of costs that failed at
// run time on the empty attempt (of those named in only, when it is not
// nil), about being what the warnings are about ("tenant acme: ", or
// ""): such a rule fails on every login that lacks what it reads (an
// attribute, a list entry) and counts as not matched, which rules check
// would otherwise pass without a word.
func WriteFailing(w io.Writer, about string, costs []RuleCost, only map[string]bool) {
	for _, c := range costs {
		if c.Failed != nil && (only == nil || only[c.RuleID]) {
			fmt.Fprintf(w, "warning: %srule %q fails at run time on an empty attempt (%v): it fails so on every login without what it reads, and counts as not matched there; guard the expression (rules check --scenarios or --in says on how many logins)\n", about, c.RuleID, c.Failed)
		}
	}
}

// slowestRules names the n slowest rules of a set, for the log line of a
// ruleset put in force: "country-hop 108ns, new-country 54ns". It is a
// slog.LogValuer because measuring takes about 50µs a rule (some 1.5ms
// for the default set, on the path of every install and of the start):
// the set is measured only when the line is written, not at all under
// --log-level warn.
type slowestRules struct {
	set *Set
	n   int
}

func (s slowestRules) LogValue() slog.Value {
	costs := s.set.Measure(50 * time.Microsecond)
	var b strings.Builder
	for i, c := range costs[:min(s.n, len(costs))] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %v", c.RuleID, c.Measured)
	}
	return slog.StringValue(b.String())
}
