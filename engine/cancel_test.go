package engine_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/internal/enginetest"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/signals"
)

// countingRules counts the rule evaluations.
type countingRules struct {
	set   *rules.Set
	evals atomic.Int64
}

func (c *countingRules) Current() engine.Ruleset { return c }
func (c *countingRules) Version() string         { return c.set.Version() }
func (c *countingRules) Evaluate(env *engine.Env, v *engine.Verdict) {
	c.evals.Add(1)
	c.set.Evaluate(env, v)
}

// cancellingStore cancels the caller's context during Observe, as a
// client giving up while the store answers.
type cancellingStore struct {
	*memstore.Store
}

type cancelKey struct{}

func (s *cancellingStore) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
	return s.Store.Observe(ctx, ev, st)
}

// cancellingSignal cancels the caller's context while the signals run.
type cancellingSignal struct {
	cancel atomic.Pointer[context.CancelFunc]
}

func (s *cancellingSignal) Name() string { return "cancelling" }
func (s *cancellingSignal) Compute(*engine.Input, *engine.Env) error {
	if c := s.cancel.Load(); c != nil {
		(*c)()
	}
	return nil
}

// TestCancelledScoreStopsWorking: a Score whose caller has gone stops
// before the signals and before the rules: requests a client abandoned
// evaluate no rule, however many (issue 10 item 2). Counted, not timed.
func TestCancelledScoreStopsWorking(t *testing.T) {
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingRules{set: set}
	store := &cancellingStore{Store: memstore.New(memstore.Options{})}
	t.Cleanup(func() { store.Close(context.Background()) })
	sig := &cancellingSignal{}
	e := enginetest.New(t, engine.Options{Store: store, Rules: cr, Now: func() time.Time { return t0 },
		Signals: append(signals.Default(signals.Config{}), sig)})

	// Live: every rule set evaluated once per Score.
	if _, err := e.Score(context.Background(), paris(t0)); err != nil || cr.evals.Load() != 1 {
		t.Fatalf("a live Score: %v, %d evaluations", err, cr.evals.Load())
	}

	// Abandoned while the store answers, or while the signals run, or
	// before it started: 300 requests, no evaluation.
	cr.evals.Store(0)
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			switch i % 3 {
			case 0:
				ctx = context.WithValue(ctx, cancelKey{}, cancel)
			case 1:
				cancel()
			}
			_, err := e.Score(ctx, paris(t0))
			if i%3 != 2 && !errors.Is(err, context.Canceled) {
				t.Errorf("request %d: %v, want canceled", i, err)
			}
		}()
	}
	wg.Wait()
	if n := cr.evals.Load(); n != 100 {
		t.Errorf("%d rule evaluations for 100 live and 200 abandoned requests", n)
	}

	// Abandoned while the signals run.
	cr.evals.Store(0)
	ctx, cancel := context.WithCancel(context.Background())
	sig.cancel.Store(&cancel)
	if _, err := e.Score(ctx, paris(t0)); !errors.Is(err, context.Canceled) || cr.evals.Load() != 0 {
		t.Errorf("cancelled during the signals: %v, %d evaluations", err, cr.evals.Load())
	}
}

// cancellingRules steps every attempt up, and cancels the context it
// holds while it evaluates: a caller whose deadline passes while the
// rules run.
type cancellingRules struct {
	cancel atomic.Pointer[context.CancelFunc]
	allow  bool // allows every attempt instead
}

func (r *cancellingRules) Current() engine.Ruleset { return r }
func (r *cancellingRules) Version() string         { return "cancelling-1" }
func (r *cancellingRules) Evaluate(_ *engine.Env, v *engine.Verdict) {
	if r.allow {
		v.Action = engine.ActionAllow
	} else {
		v.Action, v.Score = engine.ActionStepUp, 50
		v.Reasons = []engine.Reason{{RuleID: "always", Action: engine.ActionStepUp, Score: 50, Message: "step up"}}
	}
	if c := r.cancel.Swap(nil); c != nil {
		(*c)()
	}
}

// TestDecisionMadeForAGoneCallerIsKept: a Score whose caller goes while
// the rules run still returns its decision, and what the decision implies
// is recorded all the same: a retry of the attempt gets that decision
// (not, after a second's wait for one, another), and its outcome is
// found. The stores refused the commit for the cancelled context.
func TestDecisionMadeForAGoneCallerIsKept(t *testing.T) {
	r := &cancellingRules{}
	eachRetryMemory(t, engine.Options{Rules: r}, func(t *testing.T, h *harness) {
		a := paris(t0)
		a.AttemptID, a.Result = "req-gone", engine.ResultPasswordOK
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r.cancel.Store(&cancel)
		first, err := h.e.Score(ctx, a)
		if err != nil || first.Action != engine.ActionStepUp {
			t.Fatalf("first Score: %v %s", err, first.Action)
		}
		if ctx.Err() == nil {
			t.Fatal("the rules did not cancel the caller's context")
		}
		again := h.score(t, a)
		if again.DecisionID != first.DecisionID {
			t.Errorf("retry got decision %s, want the first, %s", again.DecisionID, first.DecisionID)
		}
		if err := h.e.Report(context.Background(), engine.Outcome{DecisionID: first.DecisionID, Outcome: engine.StepUpPassed}); err != nil {
			t.Errorf("the first decision's outcome: %v", err)
		}
	})
}

// TestGoneCallersLoginIsNotLearned: a login allowed for a caller that has
// gone (its deadline passed while the rules ran) is not learned by the
// Score: the caller decided it by its own failover (the Go client steps
// up) and reports the attempt with its outcome, which learns it once when
// the user passed, and never when they failed.
func TestGoneCallersLoginIsNotLearned(t *testing.T) {
	for _, oc := range []engine.OutcomeKind{engine.StepUpPassed, engine.StepUpFailed} {
		t.Run(oc.String(), func(t *testing.T) {
			r := &cancellingRules{allow: true}
			store := memstore.New(memstore.Options{})
			t.Cleanup(func() { store.Close(context.Background()) })
			e := enginetest.New(t, engine.Options{Store: store, Rules: r, Now: func() time.Time { return t0 }})
			a := paris(t0)
			a.AttemptID = "req-1:after"
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r.cancel.Store(&cancel)
			if d, err := e.Score(ctx, a); err != nil || d.Action != engine.ActionAllow || ctx.Err() == nil {
				t.Fatalf("Score for a caller gone during the rules: %v %s (context %v)", err, d.Action, ctx.Err())
			}
			if err := e.Report(context.Background(), engine.Outcome{Attempt: &a, Outcome: oc}); err != nil {
				t.Fatal(err)
			}
			p, _, err := e.Profile(context.Background(), "", a.UserID)
			if err != nil {
				t.Fatal(err)
			}
			want := uint32(0)
			if oc == engine.StepUpPassed {
				want = 1
			}
			if p.Logins != want {
				t.Errorf("%d logins learned after the failover's %s, want %d", p.Logins, oc, want)
			}
		})
	}
}
