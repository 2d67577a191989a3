// Package replay runs a recorded or simulated stream of login events
// through an engine, in file order and at the events' own times, and
// writes one decision per attempt. Labelled streams (from riskgate simulate,
// or hand-made) produce a per-label summary: how much legitimate traffic
// was challenged and how much of each attack was stopped.
package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/riskgate/riskgate/engine"
)

// MaxLineSize bounds one JSONL event.
const MaxLineSize = 64 << 10

// Line is one input event: an attempt, or an outcome when Outcome is set.
// Label and StepUpPasses are never shown to the engine.
type Line struct {
	engine.Attempt
	// Label names the traffic: "legit" or an attack such as
	// "credential_stuffing". Empty means unlabelled.
	Label string `json:"label,omitempty"`
	// StepUpPasses says whether the person behind the attempt would pass a
	// step-up; default true for legit traffic and false otherwise.
	StepUpPasses *bool    `json:"step_up_passes,omitempty"`
	Outcome      *Outcome `json:"outcome,omitempty"`
}

// Outcome is an outcome line. Besides the engine's ways of naming the
// attempt (decision_id, or a whole attempt), a replay can name an earlier
// line by its attempt_id.
type Outcome struct {
	engine.Outcome
	AttemptID string `json:"attempt_id,omitempty"`
}

// Result is one decision line of the output.
type Result struct {
	engine.Decision
	Label string `json:"label,omitempty"`
}

// Options configure a run.
type Options struct {
	// AutoOutcomes reports what the person would do after each decision: a
	// step-up passes or fails per step_up_passes. (An allowed login with
	// result password_ok is learned at Score time; one scored before the
	// password check waits for an outcome line, since only the stream knows
	// whether the password was right.)
	AutoOutcomes bool
	// NoSignals drops the feature values from the output lines.
	NoSignals bool
}

// Scorer is the part of the engine a replay drives.
type Scorer interface {
	Score(ctx context.Context, a engine.Attempt) (engine.Decision, error)
	Report(ctx context.Context, o engine.Outcome) error
}

// Run reads events from r, scores them with e and writes decisions to w. A
// line that cannot be decoded or that the engine rejects as invalid stops
// the run with an error naming the line: a replay is an experiment, and a
// silently skipped line would bias it.
func Run(ctx context.Context, e Scorer, r io.Reader, w io.Writer, opts Options) (*Summary, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	sum := NewSummary()
	decisions := map[string]scored{} // attempt_id -> its decision, for outcome lines
	n := 0
	for sc.Scan() {
		n++
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 || raw[0] == '#' {
			continue
		}
		var ln Line
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ln); err != nil {
			return sum, fmt.Errorf("replay: line %d: %w", n, err)
		}
		if ln.Outcome != nil {
			if err := report(ctx, e, ln.Outcome, decisions); err != nil {
				return sum, fmt.Errorf("replay: line %d: %w", n, err)
			}
			continue
		}
		d, err := e.Score(ctx, ln.Attempt)
		if err != nil {
			return sum, fmt.Errorf("replay: line %d: %w", n, err)
		}
		if ln.AttemptID != "" {
			decisions[ln.AttemptID] = scored{decisionID: d.DecisionID, tenant: d.Tenant}
		}
		sum.Add(ln.Label, d.Action)
		if opts.AutoOutcomes {
			if err := autoOutcome(ctx, e, &ln, &d); err != nil {
				return sum, fmt.Errorf("replay: line %d: outcome: %w", n, err)
			}
		}
		out := Result{Decision: d, Label: ln.Label}
		if opts.NoSignals {
			out.Signals = engine.Env{}
		}
		if err := enc.Encode(&out); err != nil {
			return sum, fmt.Errorf("replay: write: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return sum, fmt.Errorf("replay: line %d: longer than %d bytes", n+1, MaxLineSize)
		}
		return sum, fmt.Errorf("replay: read: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return sum, fmt.Errorf("replay: write: %w", err)
	}
	return sum, nil
}

// scored is what an outcome line naming an earlier attempt needs of its
// decision: the id, and the tenant the decision is kept under.
type scored struct {
	decisionID, tenant string
}

func report(ctx context.Context, e Scorer, o *Outcome, decisions map[string]scored) error {
	out := o.Outcome
	if o.AttemptID != "" {
		s, ok := decisions[o.AttemptID]
		if !ok {
			return fmt.Errorf("outcome for attempt_id %q, which no earlier line scored", o.AttemptID)
		}
		out.DecisionID = s.decisionID
		// The attempt's tenant, unless the line names one: an outcome
		// line need not repeat it.
		if out.Tenant == "" {
			out.Tenant = s.tenant
		}
	}
	return e.Report(ctx, out)
}

// autoOutcome reports what the person behind the attempt would do.
func autoOutcome(ctx context.Context, e Scorer, ln *Line, d *engine.Decision) error {
	failed := ln.Result.Failed()
	var kind engine.OutcomeKind
	switch {
	case d.Action == engine.ActionStepUp && !failed:
		passes := ln.Label == "" || ln.Label == "legit"
		if ln.StepUpPasses != nil {
			passes = *ln.StepUpPasses
		}
		kind = engine.StepUpFailed
		if passes {
			kind = engine.StepUpPassed
		}
	default:
		return nil // learned at Score time, or nothing to learn
	}
	return e.Report(ctx, engine.Outcome{Tenant: ln.Tenant, DecisionID: d.DecisionID, Outcome: kind})
}

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

// Summary counts decisions per label.
type Summary struct {
	Labels map[string]*LabelCounts `json:"labels"`
	// LegitFriction is the share of legitimate attempts stepped up or
	// denied; LegitDenied the share denied.
	LegitFriction float64 `json:"legit_friction"`
	LegitDenied   float64 `json:"legit_denied"`
	// AttackStopped is the share of all attack attempts stepped up or denied.
	AttackStopped float64 `json:"attack_stopped"`
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
	if label == "legit" {
		s.LegitFriction, s.LegitDenied = c.StoppedRate, c.DenyRate
	}
	var stopped, total int
	for l, c := range s.Labels {
		if l != "legit" {
			stopped += c.StepUp + c.Deny
			total += c.Total
		}
	}
	if total > 0 {
		s.AttackStopped = float64(stopped) / float64(total)
	}
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

// Empty reports whether no labelled attempt was seen.
func (s *Summary) Empty() bool { return len(s.Labels) == 0 }

// Table renders the summary for people: one row per label, legit first.
func (s *Summary) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %9s %9s %9s %9s %9s\n", "label", "total", "allow", "step_up", "deny", "stopped")
	for _, l := range s.sortedLabels() {
		c := s.Labels[l]
		fmt.Fprintf(&b, "%-22s %9d %9d %9d %9d %8.2f%%\n", l, c.Total, c.Allow, c.StepUp, c.Deny, 100*c.StoppedRate)
	}
	if c := s.Labels["legit"]; c != nil {
		fmt.Fprintf(&b, "legit friction %.2f%% (denied %.3f%%)", 100*s.LegitFriction, 100*s.LegitDenied)
		if len(s.Labels) > 1 {
			fmt.Fprintf(&b, "; attacks stopped %.2f%%", 100*s.AttackStopped)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (s *Summary) sortedLabels() []string {
	var ls []string
	for l := range s.Labels {
		if l != "legit" {
			ls = append(ls, l)
		}
	}
	slices.Sort(ls)
	if _, ok := s.Labels["legit"]; ok {
		ls = append([]string{"legit"}, ls...)
	}
	return ls
}
