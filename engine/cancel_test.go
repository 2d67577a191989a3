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

// abandoningStore counts its observes and, while armed, has its caller go
// during an observe the store applied: a client that gave up while the
// answer was on its way back (over Redis, the likeliest way a Score is
// abandoned). The engines using it set a StoreTimeout, as for a store
// over the network.
type abandoningStore struct {
	engine.Store
	observes atomic.Int64
	armed    atomic.Int64 // the observe, counted from 1, during which the caller goes
	fail     bool         // that observe, applied, answers an error (a connection lost)
	// before, when set, is called before each observe with its number.
	before atomic.Pointer[func(n int64)]
}

func (s *abandoningStore) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	n := s.observes.Add(1)
	if f := s.before.Load(); f != nil {
		(*f)(n)
	}
	cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc)
	if !ok || s.armed.Load() != n {
		return s.Store.Observe(ctx, ev, st)
	}
	s.armed.Store(0)
	err := s.Store.Observe(context.WithoutCancel(ctx), ev, st)
	cancel()
	switch {
	case err != nil:
		return err
	case s.fail:
		return errors.New("connection lost")
	}
	return ctx.Err()
}

// TestRetryOfAnAbandonedScore: a Score whose caller goes before its rules
// run (during the observe, or the signals) keeps no decision, though the
// store remembers (and counted) the attempt. The caller's retry decides
// at once, counted once: it read the store eleven times over a second
// first, waiting for the abandoned Score's decision. The failure the
// caller then reports for the attempt (the Go client fails over and
// reports it) is not counted again, and a second retry gets the first
// retry's decision. Counted in store reads, not timed.
func TestRetryOfAnAbandonedScore(t *testing.T) {
	for _, retries := range []struct {
		name    string
		entries int
	}{{"retry cache", 50_000}, {"store only", -1}} {
		for _, where := range []string{"observe", "signals"} {
			t.Run(retries.name+"/"+where, func(t *testing.T) {
				ms := memstore.New(memstore.Options{})
				t.Cleanup(func() { ms.Close(context.Background()) })
				store := &abandoningStore{Store: ms}
				sig := &cancellingSignal{}
				e := enginetest.New(t, engine.Options{Store: store, Now: func() time.Time { return t0 }, RetryEntries: retries.entries, StoreTimeout: 5 * time.Second,
					Signals: append(signals.Default(signals.Config{}), sig)})
				a := paris(t0)
				a.AttemptID, a.Result = "req-abandoned", engine.ResultPasswordBad

				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if where == "observe" {
					ctx = context.WithValue(ctx, cancelKey{}, cancel)
					store.armed.Store(1)
				} else {
					sig.cancel.Store(&cancel)
				}
				if _, err := e.Score(ctx, a); !errors.Is(err, context.Canceled) {
					t.Fatalf("the abandoned Score: %v, want canceled", err)
				}
				sig.cancel.Store(nil)

				store.observes.Store(0)
				retry, err := e.Score(context.Background(), a)
				if err != nil {
					t.Fatal(err)
				}
				if n := store.observes.Load(); n != 1 {
					t.Errorf("the retry read the store %d times, want once: it waited for a decision no one would keep", n)
				}
				if f := retry.Signals.Account.Failures1h; f != 1 {
					t.Errorf("the retry's account failures_1h %d, want 1: the attempt counted once", f)
				}
				if err := e.Report(context.Background(), engine.Outcome{Attempt: &a, Outcome: engine.LoginFailed}); err != nil {
					t.Fatal(err)
				}
				again, err := e.Score(context.Background(), a)
				if err != nil {
					t.Fatal(err)
				}
				if again.DecisionID != retry.DecisionID {
					t.Errorf("a second retry got decision %s, want the first retry's, %s", again.DecisionID, retry.DecisionID)
				}
				if f := again.Signals.Account.Failures1h; f != 1 {
					t.Errorf("after the failover's failure report, account failures_1h %d, want 1", f)
				}
			})
		}
	}
}

// stallingSignal holds the first Score to meet it, once armed, until
// released: a first Score still deciding while its retries come.
type stallingSignal struct {
	gate    atomic.Pointer[chan struct{}]
	entered chan struct{}
}

func (s *stallingSignal) Name() string { return "stalling" }
func (s *stallingSignal) Compute(*engine.Input, *engine.Env) error {
	if g := s.gate.Swap(nil); g != nil {
		close(s.entered)
		<-*g
	}
	return nil
}

// TestAbandonedRetryLeavesTheFirstScoreAlone: a retry whose caller goes
// (during its observe, or while it waits for the first Score's decision),
// or whose observe fails, while the first Score is still deciding, must
// not mark the attempt as abandoned: it is the first Score's. The next
// retry, while the first Score still decides, waits for its decision,
// and the login is learned once. A retry that marked it had the next
// decide again at once and learn the login a second time (found by
// review). The first Score is let go when the next retry reads the store
// a second time, and the read waits for its decision: no timing.
func TestAbandonedRetryLeavesTheFirstScoreAlone(t *testing.T) {
	for _, retries := range []struct {
		name    string
		entries int
	}{{"retry cache", 50_000}, {"store only", -1}} {
		for _, tc := range []struct {
			name  string
			armed int64 // the retry's observe during which its caller goes
			fail  bool
		}{
			{"gone during its observe", 1, false},
			{"gone during its wait", 3, false},
			{"observe failed", 1, true},
		} {
			t.Run(retries.name+"/"+tc.name, func(t *testing.T) {
				ms := memstore.New(memstore.Options{})
				t.Cleanup(func() { ms.Close(context.Background()) })
				store := &abandoningStore{Store: ms, fail: tc.fail}
				sig := &stallingSignal{entered: make(chan struct{})}
				e := enginetest.New(t, engine.Options{Store: store, Now: func() time.Time { return t0 }, RetryEntries: retries.entries, StoreTimeout: 5 * time.Second,
					Signals: append(signals.Default(signals.Config{}), sig)})
				a := paris(t0)
				a.AttemptID = "req-in-flight"

				gate := make(chan struct{})
				sig.gate.Store(&gate)
				type result struct {
					d   engine.Decision
					err error
				}
				first := make(chan result, 1)
				go func() {
					d, err := e.Score(context.Background(), a)
					first <- result{d, err}
				}()
				<-sig.entered // observed, and held in its signals

				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				store.observes.Store(0)
				store.armed.Store(tc.armed)
				if _, err := e.Score(context.WithValue(ctx, cancelKey{}, cancel), a); !errors.Is(err, context.Canceled) {
					t.Fatalf("the retry whose caller went: %v, want canceled", err)
				}
				var (
					r1      result
					release sync.Once
				)
				finishFirst := func() {
					release.Do(func() {
						close(gate)
						r1 = <-first
					})
				}
				before := func(n int64) {
					if n == 2 {
						finishFirst() // the next retry waits: the first decides
					}
				}
				store.observes.Store(0)
				store.before.Store(&before)
				next, err := e.Score(context.Background(), a)
				store.before.Store(nil)
				finishFirst()
				if err != nil || r1.err != nil {
					t.Fatal(err, r1.err)
				}
				if next.DecisionID != r1.d.DecisionID {
					t.Errorf("the next retry got decision %s, want the first Score's, %s", next.DecisionID, r1.d.DecisionID)
				}
				p, _, err := e.Profile(context.Background(), "", a.UserID)
				if err != nil {
					t.Fatal(err)
				}
				if p.Logins != 1 {
					t.Errorf("%d logins learned, want 1", p.Logins)
				}
			})
		}
	}
}

// hangingStore's observes answer only when their context ends: a store
// that hangs.
type hangingStore struct{ engine.Store }

func (hangingStore) Observe(ctx context.Context, _ *engine.Event, _ *engine.State) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestGoneCallerIsNotHeldWithoutAStoreTimeout: an attempt with an id is
// observed to the end for a caller that has gone only within the store's
// timeout; without one (an engine given a store and no StoreTimeout), the
// observe ends with its caller, not when the store answers, which a
// hanging store never does. Its Score leaked, held for ever (review).
func TestGoneCallerIsNotHeldWithoutAStoreTimeout(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	t.Cleanup(func() { ms.Close(context.Background()) })
	e := enginetest.New(t, engine.Options{Store: hangingStore{ms}, Now: func() time.Time { return t0 }})
	a := paris(t0)
	a.AttemptID = "req-hanging"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.Score(ctx, a)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Score: %v, want the caller's deadline", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the Score outlived its caller's deadline by 30 s: held by a hanging store")
	}
}
