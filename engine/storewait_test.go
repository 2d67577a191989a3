package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/internal/enginetest"
)

// deadlineStore is the memory store, noting the deadline of each call's
// context by operation.
type deadlineStore struct {
	*memstore.Store
	mu        sync.Mutex
	deadlines map[string][]time.Time // zero: none
}

func (s *deadlineStore) note(ctx context.Context, op string) {
	d, _ := ctx.Deadline()
	s.mu.Lock()
	s.deadlines[op] = append(s.deadlines[op], d)
	s.mu.Unlock()
}

// take returns the deadlines noted since the last take.
func (s *deadlineStore) take() map[string][]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deadlines
	s.deadlines = map[string][]time.Time{}
	return d
}

func (s *deadlineStore) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	s.note(ctx, "observe")
	return s.Store.Observe(ctx, ev, st)
}

func (s *deadlineStore) Commit(ctx context.Context, c *engine.Commit) error {
	s.note(ctx, "commit")
	return s.Store.Commit(ctx, c)
}

func (s *deadlineStore) TakePending(ctx context.Context, tenant, id string) (engine.Pending, bool, error) {
	s.note(ctx, "take_pending")
	return s.Store.TakePending(ctx, tenant, id)
}

// TestStoreWait: WithStoreWait lengthens the bound on a call's store calls,
// for Scores and for Reports, and never shortens it or sets one where the
// engine has none. The bounds are read off the deadlines the store is
// given, between clock readings before and after the call: nothing is
// timed.
func TestStoreWait(t *testing.T) {
	const bound = 50 * time.Millisecond
	for _, tc := range []struct {
		name    string
		timeout time.Duration // Options.StoreTimeout
		wait    time.Duration // WithStoreWait's
		want    time.Duration // the bound the store calls get; 0: none
	}{
		{"no wait: the engine's bound", bound, 0, bound},
		{"a longer wait", bound, 10 * time.Second, 10 * time.Second},
		{"a shorter wait leaves the bound", bound, time.Millisecond, bound},
		{"no bound to lengthen", 0, 10 * time.Second, 0},
		{"neither", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &deadlineStore{Store: memstore.New(memstore.Options{}), deadlines: map[string][]time.Time{}}
			t.Cleanup(func() { store.Close(context.Background()) })
			e := enginetest.New(t, engine.Options{Store: store, StoreTimeout: tc.timeout, Now: func() time.Time { return t0 }})
			ctx := engine.WithStoreWait(context.Background(), tc.wait)

			check := func(what string, call func() error, ops ...string) {
				t.Helper()
				before := time.Now()
				if err := call(); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				after := time.Now()
				got := store.take()
				for _, op := range ops {
					if len(got[op]) == 0 {
						t.Errorf("%s: no %s call", what, op)
					}
					for _, d := range got[op] {
						switch {
						case tc.want == 0 && !d.IsZero():
							t.Errorf("%s: %s has a deadline %v away, want none", what, op, d.Sub(before))
						case tc.want != 0 && (d.Before(before.Add(tc.want)) || d.After(after.Add(tc.want))):
							t.Errorf("%s: %s's deadline is %v after the call began, want %v", what, op, d.Sub(before), tc.want)
						}
					}
				}
			}

			// A completed login: observed, then learned.
			check("a Score", func() error {
				d, err := e.Score(ctx, paris(t0))
				if err == nil && !d.Signals.State.Available {
					t.Error("a Score: decided without state")
				}
				return err
			}, "observe", "commit")

			// A login scored before its password check, then its outcome.
			a := paris(t0.Add(time.Hour))
			a.Result = engine.ResultUnknown
			d, err := e.Score(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			store.take()
			check("a Report", func() error {
				return e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: engine.LoginSucceeded})
			}, "take_pending", "commit")
		})
	}
}

// TestStoreWaitReachesSlowStore: with the engine's bound shorter than the
// store takes, a Score is decided without state, and with a long enough
// WithStoreWait it is decided on the store's answer. The store holds its
// answer until the test has seen the plain Score give up: it is released,
// not timed.
func TestStoreWaitReachesSlowStore(t *testing.T) {
	release := make(chan struct{})
	store := &heldStore{Store: memstore.New(memstore.Options{}), release: release}
	t.Cleanup(func() { store.Close(context.Background()) })
	e := enginetest.New(t, engine.Options{Store: store, StoreTimeout: 20 * time.Millisecond, Now: func() time.Time { return t0 }})

	d, err := e.Score(context.Background(), paris(t0))
	if err != nil {
		t.Fatal(err)
	}
	if d.Signals.State.Available {
		t.Fatal("the store held its answer past the bound, and the decision says it had state")
	}

	done := make(chan engine.Decision, 1)
	go func() {
		d, err := e.Score(engine.WithStoreWait(context.Background(), time.Minute), paris(t0.Add(time.Hour)))
		if err != nil {
			t.Error(err)
		}
		done <- d
	}()
	store.waitHeld(t, 2) // the second Score's observe is waiting on the store
	close(release)
	if d := <-done; !d.Signals.State.Available {
		t.Error("with a minute's wait, the Score was decided without state")
	}
}

// heldStore holds every Observe until release is closed or its context
// is done, and counts the Observes that began.
type heldStore struct {
	*memstore.Store
	release chan struct{}
	mu      sync.Mutex
	held    int
}

func (s *heldStore) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	s.mu.Lock()
	s.held++
	s.mu.Unlock()
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Observe(ctx, ev, st)
}

func (s *heldStore) waitHeld(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		h := s.held
		s.mu.Unlock()
		if h >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d observes began, want %d", h, n)
		}
	}
}
