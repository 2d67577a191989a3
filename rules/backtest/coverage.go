package backtest

import (
	"fmt"
	"io"
	"strings"

	"github.com/riskgate/riskgate/rules"
)

// Warning is a rule that matched nothing, or every attempt, of a stream:
// a condition that can never be true (a typo the type checker accepts,
// `attempt.channel == "Web"`), or one that is always true (`>=` for `>`),
// which `rules check --in` reports before the rule reaches production.
type Warning struct {
	Rule     string `json:"rule"`
	Mode     string `json:"mode"`
	Matches  int    `json:"matches"`
	Attempts int    `json:"attempts"`
	// Everything is true for a rule that matched every attempt, false for
	// one that matched none.
	Everything bool `json:"everything"`
	// Why, when known, is what the run lacks for the rule to match, so
	// that nobody hunts for a bug in a sound condition: "it tests
	// ip.lists, and this run has no IP list".
	Why string `json:"why,omitempty"`
	// Errors is the number of attempts on which the rule's when failed at
	// run time (counted as not matched), ReasonErrors the matches on which
	// its reason did (given the description), Error the first failure's
	// message: a rule that fails is warned of whatever it matched.
	Errors       int    `json:"errors,omitempty"`
	ReasonErrors int    `json:"reason_errors,omitempty"`
	Error        string `json:"error,omitempty"`
}

func (w Warning) String() string {
	if w.Errors > 0 {
		s := fmt.Sprintf("rule %q (%s) failed at run time on %d of the %d attempts (%s), each counted as not matched", w.Rule, w.Mode, w.Errors, w.Attempts, w.Error)
		switch {
		case w.Matches == 0:
			s += "; it matched none"
		case w.Everything:
			s += "; it matched all the others"
		default:
			s += fmt.Sprintf("; it matched %d", w.Matches)
		}
		if w.ReasonErrors > 0 {
			s += fmt.Sprintf(", and its reason failed on %d of them", w.ReasonErrors)
		}
		return s
	}
	if w.ReasonErrors > 0 {
		return fmt.Sprintf("rule %q (%s): its reason failed at run time on %d of its %d matches (%s), which gave the description instead", w.Rule, w.Mode, w.ReasonErrors, w.Matches, w.Error)
	}
	if w.Everything {
		return fmt.Sprintf("rule %q (%s) matched every one of the %d attempts", w.Rule, w.Mode, w.Attempts)
	}
	if w.Why != "" {
		return fmt.Sprintf("rule %q (%s) matched none of the %d attempts: %s", w.Rule, w.Mode, w.Attempts, w.Why)
	}
	return fmt.Sprintf("rule %q (%s) matched none of the %d attempts", w.Rule, w.Mode, w.Attempts)
}

// NeedsLists fills the Why of the warnings about rules that matched
// nothing and test ip.lists, in a run without IP lists: they cannot match
// the way they are meant to. how says how to give the lists.
func NeedsLists(ws []Warning, set *rules.Set, how string) {
	when := map[string]string{}
	for _, r := range set.Rules() {
		when[r.ID] = r.When
	}
	for i := range ws {
		if !ws[i].Everything && ws[i].Errors == 0 && ws[i].ReasonErrors == 0 && strings.Contains(when[ws[i].Rule], "ip.lists") {
			ws[i].Why = "it tests ip.lists, and this run has no IP list (" + how + ")"
		}
	}
}

// Coverage returns the candidate's rules that matched nothing or every
// attempt of the report's stream, or failed at run time on any, in the
// report's order. A stream without attempts warns of nothing.
func Coverage(r *Report) []Warning {
	if r.Attempts == 0 {
		return nil
	}
	var out []Warning
	for _, rr := range r.Rules {
		a := rr.After
		if a.Mode == "" {
			continue // not a rule of the candidate
		}
		if a.Matches == 0 || a.Matches+a.Errors >= r.Attempts || a.failed() {
			out = append(out, Warning{Rule: rr.ID, Mode: a.Mode, Matches: a.Matches, Attempts: r.Attempts,
				Everything: a.Matches > 0 && a.Matches+a.Errors >= r.Attempts, Errors: a.Errors, ReasonErrors: a.ReasonErrors, Error: a.Error})
		}
	}
	return out
}

// WriteCoverage writes the warnings as text, one a line, after a line
// saying what stream they are about.
func WriteCoverage(w io.Writer, about string, ws []Warning) error {
	if len(ws) == 0 {
		_, err := fmt.Fprintf(w, "every rule matched some but not all of the attempts of %s\n", about)
		return err
	}
	for _, x := range ws {
		if _, err := fmt.Fprintf(w, "warning: %s: %s\n", about, x); err != nil {
			return err
		}
	}
	return nil
}
