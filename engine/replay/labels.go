package replay

import (
	"math"
	"slices"
	"strings"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// Labels of traffic that are not attacks.
const (
	LabelLegit = "legit"
	// LabelFraud is the label of an unlabelled attempt that an analyst
	// confirmed as fraud (confirmed_fraud).
	LabelFraud = "fraud"
)

// Labels is the label of every attempt of a stream, by ordinal: the
// stream's own (a simulated stream's label), or an analyst's, from a
// confirmed_fraud or confirmed_legit outcome that may come days later.
// An analyst's label replaces a missing label or one it contradicts
// (confirmed_fraud on "legit"), and keeps a more specific one
// (confirmed_fraud on "account_takeover").
type Labels struct {
	names []string          // index -> label; 0 is unlabelled
	index map[string]uint16 // label -> index
	of    []uint16          // ordinal -> index
}

// NewLabels returns an empty Labels.
func NewLabels() *Labels {
	return &Labels{names: []string{""}, index: map[string]uint16{"": 0}}
}

func (l *Labels) intern(label string) uint16 {
	if i, ok := l.index[label]; ok {
		return i
	}
	if len(l.names) == math.MaxUint16 {
		return 0 // absurdly many labels: the rest count as unlabelled
	}
	i := uint16(len(l.names))
	l.names = append(l.names, label)
	l.index[label] = i
	return i
}

// Set records the stream's label of attempt ord. Attempts are set in
// ordinal order.
func (l *Labels) Set(ord uint32, label string) {
	for uint32(len(l.of)) <= ord {
		l.of = append(l.of, 0)
	}
	l.of[ord] = l.intern(label)
}

// Confirm applies an analyst's label to attempt ord.
func (l *Labels) Confirm(ord uint32, kind engine.OutcomeKind) {
	if ord >= uint32(len(l.of)) {
		return
	}
	cur := l.names[l.of[ord]]
	switch kind {
	case engine.ConfirmedFraud:
		if cur == "" || cur == LabelLegit {
			l.of[ord] = l.intern(LabelFraud)
		}
	case engine.ConfirmedLegit:
		l.of[ord] = l.intern(LabelLegit)
	}
}

// Of returns the label of attempt ord ("" when unlabelled).
func (l *Labels) Of(ord uint32) string {
	if ord >= uint32(len(l.of)) {
		return ""
	}
	return l.names[l.of[ord]]
}

// IsAttack reports whether label names an attack: any label but legit and
// none.
func IsAttack(label string) bool { return label != "" && label != LabelLegit }

// ShadowCounts is what a shadow rule would have done had it been
// enforced. A match counts as a step-up or a deny only when enforcing the
// rule would have made the decision stronger (its action, or its score
// added to the decision's reaching a threshold); Legit and Attack split
// those by label.
type ShadowCounts struct {
	Rule    string `json:"rule"`
	Matched int    `json:"matched"`
	StepUp  int    `json:"would_step_up"`
	Deny    int    `json:"would_deny"`
	Legit   int    `json:"legit"`
	Attack  int    `json:"attack"`
}

// ShadowTally counts shadow rule matches over a run. Labels are resolved
// at the end, since an analyst's label can come after the attempt.
type ShadowTally struct {
	rules map[string]*shadowRule
}

type shadowRule struct {
	matched int
	hits    []shadowHit // matches that would have changed the decision
}

type shadowHit struct {
	ord    uint32
	action engine.Action
}

// NewShadowTally returns an empty tally.
func NewShadowTally() *ShadowTally { return &ShadowTally{rules: map[string]*shadowRule{}} }

// Add counts the shadow matches of decision d on attempt ord, scored by a
// ruleset with thresholds th; nil th (the ruleset is not known) counts
// the matches only.
func (t *ShadowTally) Add(ord uint32, d *engine.Decision, th *rules.Thresholds) {
	for i := range d.Shadow {
		r := &d.Shadow[i]
		sr := t.rules[r.RuleID]
		if sr == nil {
			sr = &shadowRule{}
			t.rules[r.RuleID] = sr
		}
		sr.matched++
		if th == nil {
			continue
		}
		if a := Enforced(d, r, *th); a > d.Action {
			sr.hits = append(sr.hits, shadowHit{ord: ord, action: a})
		}
	}
}

// Enforced is the action decision d would have had with the shadow rule r
// enforced: r's action, and its score added to the decision's against the
// thresholds. (The decision's score is already capped at 0..100, so a
// shadow rule added to a capped score is judged from the cap.)
func Enforced(d *engine.Decision, r *engine.Reason, th rules.Thresholds) engine.Action {
	a := d.Action.Stronger(r.Action)
	score := min(max(d.Score+r.Score, 0), rules.MaxScore)
	switch {
	case score >= th.Deny:
		a = a.Stronger(engine.ActionDeny)
	case score >= th.StepUp:
		a = a.Stronger(engine.ActionStepUp)
	}
	return a
}

// Counts returns every shadow rule's counts, by rule id, labelled by l
// (nil: no labels).
func (t *ShadowTally) Counts(l *Labels) []ShadowCounts {
	out := make([]ShadowCounts, 0, len(t.rules))
	for id, sr := range t.rules {
		c := ShadowCounts{Rule: id, Matched: sr.matched}
		for _, h := range sr.hits {
			if h.action == engine.ActionDeny {
				c.Deny++
			} else {
				c.StepUp++
			}
			if l != nil {
				switch lb := l.Of(h.ord); {
				case lb == LabelLegit:
					c.Legit++
				case IsAttack(lb):
					c.Attack++
				}
			}
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b ShadowCounts) int { return strings.Compare(a.Rule, b.Rule) })
	return out
}
