package replay

import (
	"context"
	"errors"
	"fmt"

	"github.com/riskgate/riskgate/engine"
)

// CapturedScorer scores attempts read back from a capture; *engine.Engine
// implements it.
type CapturedScorer interface {
	ScoreCaptured(ctx context.Context, a engine.Attempt, pw *engine.PasswordFacts) (engine.Decision, error)
}

// PlayStats count what became of a stream's outcome lines in one run.
type PlayStats struct {
	// Applied outcomes reached this run's decision.
	Applied int `json:"applied"`
	// Skipped outcomes did not apply: the decision they answer is not one
	// that waits for an outcome in this run (a replay under other rules
	// denied what the live engine stepped up, say), or the capture does
	// not hold the attempt.
	Skipped int `json:"skipped"`
}

// Player drives one engine through a stream: it scores the attempts
// (captured ones with ScoreCaptured), answers step-ups for the person
// behind them, and applies outcome lines to this run's own decisions.
// Two players given the same events (a backtest) evolve their state as
// two real deployments would.
type Player struct {
	s        Scorer
	cs       CapturedScorer // nil when s cannot score captures
	opts     PlayerOptions
	ids      []string // decision ids by ordinal, when labels are forwarded
	pending  map[uint32]pendingDecision
	order    []uint32 // ordinals in pending, oldest first, to bound it
	Stats    PlayStats
	maxWaits int
}

// pendingDecision is a decision of this run that waits for an outcome.
type pendingDecision struct {
	id, tenant string
	action     engine.Action
}

// maxPending bounds the decisions a Player remembers for outcome lines,
// like the memory store bounds its own (an outcome for an older one finds
// nothing to apply to in either).
const maxPending = 500_000

// PlayerOptions configure a Player.
type PlayerOptions struct {
	// AutoOutcomes answers the step-ups of attempts that are not from a
	// capture, as Options.AutoOutcomes.
	AutoOutcomes bool
	// ForwardLabels reports analysts' labels (confirmed_fraud,
	// confirmed_legit) to the engine, which passes them to its observers
	// (a capture records them). It costs a decision id kept per attempt;
	// without it labels are left to the caller's tally.
	ForwardLabels bool
}

// NewPlayer returns a Player scoring with s.
func NewPlayer(s Scorer, opts PlayerOptions) *Player {
	p := &Player{s: s, opts: opts, pending: map[uint32]pendingDecision{}, maxWaits: maxPending}
	p.cs, _ = s.(CapturedScorer)
	return p
}

// Attempt scores the attempt event ev and does what the person behind it
// would do next.
func (p *Player) Attempt(ctx context.Context, ev *Event) (engine.Decision, error) {
	ln := &ev.Line
	var (
		d   engine.Decision
		err error
	)
	if ev.Captured {
		if p.cs == nil {
			return d, fmt.Errorf("a captured attempt, and the scorer %T cannot score captures", p.s)
		}
		var facts *engine.PasswordFacts
		if ln.Password != nil {
			if facts, err = ln.Password.Facts(); err != nil {
				return d, err
			}
		}
		d, err = p.cs.ScoreCaptured(ctx, ln.Attempt, facts)
	} else {
		d, err = p.s.Score(ctx, ln.Attempt)
	}
	if err != nil {
		return d, err
	}
	if p.opts.ForwardLabels {
		p.ids = append(p.ids, d.DecisionID)
	}
	if !waitsForOutcome(ln, d.Action) {
		return d, nil
	}
	if kind, ok := p.answer(ev, d.Action); ok {
		err := p.s.Report(ctx, engine.Outcome{Tenant: d.Tenant, DecisionID: d.DecisionID, Outcome: kind})
		if err != nil {
			return d, fmt.Errorf("outcome: %w", err)
		}
		return d, nil
	}
	p.remember(ev.Ordinal, pendingDecision{id: d.DecisionID, tenant: d.Tenant, action: d.Action})
	return d, nil
}

// waitsForOutcome is the engine's rule for remembering a decision: a
// known user's step-up of an attempt not known to have failed, or an
// allowed attempt scored before the password check.
func waitsForOutcome(ln *Line, a engine.Action) bool {
	if ln.UserID == "" {
		return false
	}
	return a == engine.ActionStepUp && !ln.Result.Failed() || a == engine.ActionAllow && ln.Result == engine.ResultUnknown
}

// answer is what the person does right after the decision, when that is
// known: in a simulated (labelled) stream with auto-outcomes, whether they
// pass a step-up; in a capture, a step-up the live engine did not ask for
// on a login that completed live (allowed with the password right) is
// passed, since the person who logged in live would have passed it. Other
// decisions wait for the stream's outcome lines.
func (p *Player) answer(ev *Event, a engine.Action) (engine.OutcomeKind, bool) {
	ln := &ev.Line
	if a != engine.ActionStepUp {
		return 0, false
	}
	switch {
	case ln.Live != nil:
		if ln.Live.Action == engine.ActionAllow && ln.Result == engine.ResultPasswordOK {
			return engine.StepUpPassed, true
		}
	case p.opts.AutoOutcomes && !ev.Captured:
		passes := ln.Label == "" || ln.Label == "legit"
		if ln.StepUpPasses != nil {
			passes = *ln.StepUpPasses
		}
		if passes {
			return engine.StepUpPassed, true
		}
		return engine.StepUpFailed, true
	}
	return 0, false
}

func (p *Player) remember(ord uint32, pd pendingDecision) {
	p.pending[ord] = pd
	p.order = append(p.order, ord)
	for len(p.pending) > p.maxWaits {
		delete(p.pending, p.order[0])
		p.order = p.order[1:]
	}
	if len(p.order) > 2*p.maxWaits+1024 {
		// Drop answered ordinals from the queue now and then.
		kept := p.order[:0]
		for _, o := range p.order {
			if _, ok := p.pending[o]; ok {
				kept = append(kept, o)
			}
		}
		p.order = kept
	}
}

// Outcome applies the outcome event ev. Analyst labels (confirmed_fraud,
// confirmed_legit) change no state: the engine only passes them to its
// observers, so they reach it only with PlayerOptions.ForwardLabels.
func (p *Player) Outcome(ctx context.Context, ev *Event) error {
	o := ev.Line.Outcome
	if ev.Unmatched {
		p.Stats.Skipped++
		return nil
	}
	if k := o.Outcome.Outcome; k == engine.ConfirmedFraud || k == engine.ConfirmedLegit {
		if !p.opts.ForwardLabels {
			return nil
		}
		out := o.Outcome
		if ev.Resolved {
			out.DecisionID = p.ids[ev.Ordinal]
		}
		if err := p.s.Report(ctx, out); err != nil {
			return err
		}
		p.Stats.Applied++
		return nil
	}
	if !ev.Resolved {
		// Named by decision_id or by the attempt itself: as given.
		if err := p.s.Report(ctx, o.Outcome); err != nil {
			return err
		}
		p.Stats.Applied++
		return nil
	}
	pd, ok := p.pending[ev.Ordinal]
	if !ok {
		p.Stats.Skipped++
		return nil
	}
	delete(p.pending, ev.Ordinal)
	kind, ok := AdaptOutcome(pd.action, o.Outcome.Outcome)
	if !ok {
		p.Stats.Skipped++
		return nil
	}
	out := o.Outcome
	out.DecisionID, out.Outcome = pd.id, kind
	if out.Tenant == "" {
		// An outcome line need not repeat its attempt's tenant.
		out.Tenant = pd.tenant
	}
	if err := p.s.Report(ctx, out); err != nil {
		if errors.Is(err, engine.ErrUnknownDecision) {
			p.Stats.Skipped++ // expired in the store
			return nil
		}
		return err
	}
	p.Stats.Applied++
	return nil
}

// AdaptOutcome turns an outcome reported for an attempt into the outcome
// of this run's decision on it, which may differ from the decision the
// outcome answered (a replay under other rules): a step-up answered by a
// completed login was passed; an allowed attempt whose step-up passed was
// a completed login; failures stay failures. An allowed attempt whose
// step-up failed has no outcome: whether its password was right is not
// known. ok is false when the outcome does not apply.
func AdaptOutcome(decided engine.Action, reported engine.OutcomeKind) (engine.OutcomeKind, bool) {
	switch decided {
	case engine.ActionStepUp:
		switch reported {
		case engine.LoginSucceeded, engine.StepUpPassed:
			return engine.StepUpPassed, true
		case engine.LoginFailed, engine.StepUpFailed:
			return reported, true
		}
	case engine.ActionAllow:
		switch reported {
		case engine.LoginSucceeded, engine.StepUpPassed:
			return engine.LoginSucceeded, true
		case engine.LoginFailed:
			return engine.LoginFailed, true
		}
	}
	return 0, false
}
