package replay

import (
	"fmt"
	"slices"
	"strings"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// LabelCounts are the decisions for one label.
type LabelCounts struct {
	Total  int `json:"total"`
	Allow  int `json:"allow"`
	StepUp int `json:"step_up"`
	Deny   int `json:"deny"`
	// StoppedRate is (step_up + deny) / total: for legit traffic the
	// friction, for an attack the share stopped.
	StoppedRate float64 `json:"stopped_rate"`
	DenyRate    float64 `json:"deny_rate"`
}

// Add counts one decision and updates the rates.
func (c *LabelCounts) Add(a engine.Action) {
	c.Total++
	switch a {
	case engine.ActionDeny:
		c.Deny++
	case engine.ActionStepUp:
		c.StepUp++
	default:
		c.Allow++
	}
	c.StoppedRate = float64(c.StepUp+c.Deny) / float64(c.Total)
	c.DenyRate = float64(c.Deny) / float64(c.Total)
}

// Summary counts decisions per label, and says what the shadow rules
// would have done.
type Summary struct {
	Labels map[string]*LabelCounts `json:"labels"`
	// LegitFriction is the share of legitimate attempts stepped up or
	// denied; LegitDenied the share denied.
	LegitFriction float64 `json:"legit_friction"`
	LegitDenied   float64 `json:"legit_denied"`
	// AttackStopped is the share of all attack attempts stepped up or denied.
	AttackStopped float64 `json:"attack_stopped"`
	// Shadow is each shadow rule's matches and what it would have done.
	Shadow []ShadowCounts `json:"shadow,omitempty"`
	// Live compares the replayed actions of captured attempts with the
	// live ones.
	Live *LiveMatch `json:"live,omitempty"`
	// Stream counts the input; Outcomes what became of its outcome lines.
	Stream   DecodeStats `json:"stream"`
	Outcomes PlayStats   `json:"outcomes"`
}

// LiveMatch compares a replay of a capture with what ran live.
type LiveMatch struct {
	Compared int `json:"compared"`
	// Same is how many replayed actions equal the live ones: all of them
	// when a capture is replayed under the rules that ran, on the same
	// GeoIP databases, without gaps.
	Same int `json:"same"`
}

// NewSummary returns an empty summary.
func NewSummary() *Summary { return &Summary{Labels: map[string]*LabelCounts{}} }

// Add counts one decision. Unlabelled attempts are not counted.
func (s *Summary) Add(label string, a engine.Action) {
	if label == "" {
		return
	}
	c := s.Labels[label]
	if c == nil {
		c = &LabelCounts{}
		s.Labels[label] = c
	}
	c.Add(a)
	if label == LabelLegit {
		s.LegitFriction, s.LegitDenied = c.StoppedRate, c.DenyRate
	}
	var stopped, total int
	for l, c := range s.Labels {
		if IsAttack(l) {
			stopped += c.StepUp + c.Deny
			total += c.Total
		}
	}
	if total > 0 {
		s.AttackStopped = float64(stopped) / float64(total)
	}
}

// Empty reports whether there is nothing to summarise: no labelled
// attempt, no shadow match and no captured attempt.
func (s *Summary) Empty() bool { return len(s.Labels) == 0 && len(s.Shadow) == 0 && s.Live == nil }

// Table renders the summary for people: one row per label, legit first,
// then the shadow rules and the comparison with the live decisions.
func (s *Summary) Table() string {
	var b strings.Builder
	if len(s.Labels) > 0 {
		fmt.Fprintf(&b, "%-22s %9s %9s %9s %9s %9s\n", "label", "total", "allow", "step_up", "deny", "stopped")
		for _, l := range s.sortedLabels() {
			c := s.Labels[l]
			fmt.Fprintf(&b, "%-22s %9d %9d %9d %9d %8.2f%%\n", l, c.Total, c.Allow, c.StepUp, c.Deny, 100*c.StoppedRate)
		}
	}
	if c := s.Labels[LabelLegit]; c != nil {
		fmt.Fprintf(&b, "legit friction %.2f%% (denied %.3f%%)", 100*s.LegitFriction, 100*s.LegitDenied)
		if len(s.Labels) > 1 {
			fmt.Fprintf(&b, "; attacks stopped %.2f%%", 100*s.AttackStopped)
		}
		b.WriteByte('\n')
	}
	WriteShadow(&b, s.Shadow, len(s.Labels) > 0)
	if l := s.Live; l != nil {
		fmt.Fprintf(&b, "captured attempts: %d, replayed action equal to the live one for %d (%.3f%%)\n", l.Compared, l.Same, 100*float64(l.Same)/float64(max(l.Compared, 1)))
	}
	if n := s.Outcomes.Skipped; n > 0 {
		fmt.Fprintf(&b, "outcomes: %d applied, %d did not apply to this run's decisions\n", s.Outcomes.Applied, n)
	}
	if n := s.Stream.Dropped; n > 0 {
		fmt.Fprintf(&b, "the capture has gaps: its sink dropped %d events\n", n)
	}
	return b.String()
}

// WriteShadow writes one line per shadow rule: "would have stepped up N /
// denied N (of which labelled legit M)".
func WriteShadow(b *strings.Builder, shadow []ShadowCounts, labelled bool) {
	for _, c := range shadow {
		fmt.Fprintf(b, "shadow %s: matched %d; would have stepped up %d / denied %d", c.Rule, c.Matched, c.StepUp, c.Deny)
		if labelled {
			fmt.Fprintf(b, " (of which labelled legit %d, attack %d)", c.Legit, c.Attack)
		}
		b.WriteByte('\n')
	}
}

func (s *Summary) sortedLabels() []string {
	var ls []string
	for l := range s.Labels {
		if l != LabelLegit {
			ls = append(ls, l)
		}
	}
	slices.Sort(ls)
	if _, ok := s.Labels[LabelLegit]; ok {
		ls = append([]string{LabelLegit}, ls...)
	}
	return ls
}

// tally accumulates a run's decisions; labels are resolved at the end,
// since an analyst's label can follow its attempt by days.
type tally struct {
	thresholds func(string) (rules.Thresholds, bool)
	labels     *Labels
	actions    []engine.Action // by ordinal
	shadow     *ShadowTally
	live       *LiveMatch
}

func newTally(th func(string) (rules.Thresholds, bool)) *tally {
	return &tally{thresholds: th, labels: NewLabels(), shadow: NewShadowTally()}
}

func (t *tally) attempt(ev *Event, d *engine.Decision) {
	t.labels.Set(ev.Ordinal, ev.Line.Label)
	t.actions = append(t.actions, d.Action)
	if len(d.Shadow) > 0 {
		var th *rules.Thresholds
		if t.thresholds != nil {
			if v, ok := t.thresholds(d.RulesVersion); ok {
				th = &v
			}
		}
		t.shadow.Add(ev.Ordinal, d, th)
	}
	if l := ev.Line.Live; l != nil {
		if t.live == nil {
			t.live = &LiveMatch{}
		}
		t.live.Compared++
		if l.Action == d.Action {
			t.live.Same++
		}
	}
}

func (t *tally) outcome(ev *Event) {
	if ev.Resolved {
		t.labels.Confirm(ev.Ordinal, ev.Line.Outcome.Outcome.Outcome)
	}
}

func (t *tally) summary(ds DecodeStats, ps PlayStats) *Summary {
	s := NewSummary()
	for ord, a := range t.actions {
		s.Add(t.labels.Of(uint32(ord)), a)
	}
	s.Shadow = t.shadow.Counts(t.labels)
	if t.live != nil {
		l := *t.live
		s.Live = &l
	}
	s.Stream, s.Outcomes = ds, ps
	return s
}
