// Package replay runs a recorded or simulated stream of login events
// through an engine, in file order and at the events' own times, and
// writes one decision per attempt. Labelled streams (from riskgate simulate,
// or hand-made) produce a per-label summary: how much legitimate traffic
// was challenged and how much of each attack was stopped.
//
// A capture (package engine/capture) is a replay stream too: its attempts
// carry keyed identifiers, password facts instead of a hash, and the live
// decision, so a replay under the rules that ran reproduces the live
// actions, and a replay under other rules shows what they would have done.
// The Decoder and Player here are the parts a backtest (rules/backtest)
// drives twice, once per ruleset.
package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// MaxLineSize bounds one JSONL event. Attempts are far smaller (the
// engine's field limits keep them under 20 KB); a capture's rules record
// holds whole rule files.
const MaxLineSize = 4 << 20

// Line is one input event: an attempt, or an outcome when Outcome is set,
// or one of a capture's records (Capture, Rules, Gap). Label and
// StepUpPasses are never shown to the engine.
type Line struct {
	engine.Attempt
	// Label names the traffic: "legit" or an attack such as
	// "credential_stuffing". Empty means unlabelled.
	Label string `json:"label,omitempty"`
	// StepUpPasses says whether the person behind the attempt would pass a
	// step-up; default true for legit traffic and false otherwise.
	StepUpPasses *bool    `json:"step_up_passes,omitempty"`
	Outcome      *Outcome `json:"outcome,omitempty"`

	// Password is a captured attempt's password (never with password_sha1).
	Password *Password `json:"password,omitempty"`
	// Live is the live decision on a captured attempt.
	Live *Live `json:"live,omitempty"`
	// Capture, Rules and Gap are capture records (see records.go).
	Capture *Header      `json:"capture,omitempty"`
	Rules   *RulesRecord `json:"rules,omitempty"`
	Gap     *Gap         `json:"gap,omitempty"`
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
	// Live is what the live engine decided, for a captured attempt.
	Live *Live `json:"live,omitempty"`
}

// Options configure a run.
type Options struct {
	// AutoOutcomes reports what the person would do after each decision: a
	// step-up passes or fails per step_up_passes. (An allowed login with
	// result password_ok is learned at Score time; one scored before the
	// password check waits for an outcome line, since only the stream knows
	// whether the password was right.) Captured attempts are answered from
	// the capture's own outcomes instead (see Player).
	AutoOutcomes bool
	// NoSignals drops the feature values from the output lines.
	NoSignals bool
	// Thresholds returns the score thresholds of the ruleset with this
	// version, so that the summary can say what each shadow rule would
	// have done if enforced; nil, or false, counts shadow matches only.
	Thresholds func(rulesVersion string) (rules.Thresholds, bool)
	// OnRules, when set, is called with each ruleset record of a capture,
	// in stream order, before the attempts it scored: `replay
	// --captured-rules` puts it in force.
	OnRules func(*RulesRecord) error
}

// Scorer is the part of the engine a replay drives. To replay a capture
// it must also be a CapturedScorer (*engine.Engine is).
type Scorer interface {
	Score(ctx context.Context, a engine.Attempt) (engine.Decision, error)
	Report(ctx context.Context, o engine.Outcome) error
}

// Run reads events from r, scores them with e and writes decisions to w. A
// line that cannot be decoded or that the engine rejects as invalid stops
// the run with an error naming the line: a replay is an experiment, and a
// silently skipped line would bias it.
func Run(ctx context.Context, e Scorer, r io.Reader, w io.Writer, opts Options) (*Summary, error) {
	dec := NewDecoder(r)
	pl := NewPlayer(e, PlayerOptions{AutoOutcomes: opts.AutoOutcomes, ForwardLabels: true})
	t := newTally(opts.Thresholds)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	summary := func() *Summary { return t.summary(dec.Stats, pl.Stats) }
	var ev Event
	for {
		if err := ctx.Err(); err != nil {
			return summary(), err
		}
		err := dec.Next(&ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			return summary(), err
		}
		switch ev.Kind {
		case KindRules:
			if opts.OnRules != nil {
				if err := opts.OnRules(ev.Line.Rules); err != nil {
					return summary(), fmt.Errorf("replay: %s: %w", dec.Where(ev.LineNo), err)
				}
			}
		case KindOutcome:
			if err := pl.Outcome(ctx, &ev); err != nil {
				return summary(), fmt.Errorf("replay: %s: %w", dec.Where(ev.LineNo), err)
			}
			t.outcome(&ev)
		case KindAttempt:
			d, err := pl.Attempt(ctx, &ev)
			if err != nil {
				return summary(), fmt.Errorf("replay: %s: %w", dec.Where(ev.LineNo), err)
			}
			t.attempt(&ev, &d)
			out := Result{Decision: d, Label: ev.Line.Label, Live: ev.Line.Live}
			if opts.NoSignals {
				out.Signals = engine.Env{}
			}
			if err := enc.Encode(&out); err != nil {
				return summary(), fmt.Errorf("replay: write: %w", err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return summary(), fmt.Errorf("replay: write: %w", err)
	}
	return summary(), nil
}
