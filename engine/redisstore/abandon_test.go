package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/signals"
)

// goneDuringObserve counts its observes and, once armed, has its caller
// go while the observe's answer is on its way back: Redis applied it, the
// Score sees a cancelled context.
type goneDuringObserve struct {
	*Store
	observes atomic.Int64
	cancel   atomic.Pointer[context.CancelFunc]
}

func (s *goneDuringObserve) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	s.observes.Add(1)
	c := s.cancel.Swap(nil)
	if c == nil {
		return s.Store.Observe(ctx, ev, st)
	}
	if err := s.Store.Observe(context.WithoutCancel(ctx), ev, st); err != nil {
		return err
	}
	(*c)()
	return ctx.Err()
}

// TestRetryOfAnAbandonedScore: a Score whose caller went during its
// observe's round trip leaves the attempt remembered in Redis, and
// counted, with no decision to come. It marks the attempt, so that the
// caller's retry decides at once (one store read, not eleven over a
// second), counted once; the retry's decision replaces the mark, and a
// second retry gets it.
func TestRetryOfAnAbandonedScore(t *testing.T) {
	srv := redistest.Start(t)
	s := &goneDuringObserve{Store: newTestStore(t, srv.URL, Options{})}
	defer s.Close(context.Background())
	e := signalEngine(t, s)
	a := attempt("ana", time.Now(), engine.ResultPasswordBad)
	a.AttemptID = "ana-req-1"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.cancel.Store(&cancel)
	if _, err := e.Score(ctx, a); !errors.Is(err, context.Canceled) {
		t.Fatalf("the abandoned Score: %v, want canceled", err)
	}
	bg := context.Background()
	if err := s.flush(bg); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	k := s.keys.attempt("acme", testKeyer(t).Attempt("acme", a.AttemptID))
	if v, err := rdb.Get(bg, k).Result(); err != nil || len(v) != engine.MinRecord {
		t.Errorf("the abandoned attempt's key holds %q (%v), want its mark", v, err)
	}

	s.observes.Store(0)
	retry, err := e.Score(bg, a)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.observes.Load(); n != 1 {
		t.Errorf("the retry read the store %d times, want once: it waited for a decision no one would keep", n)
	}
	if f := retry.Signals.Account.Failures1h; f != 1 {
		t.Errorf("the retry's account failures_1h %d, want 1: the attempt counted once", f)
	}
	if err := s.flush(bg); err != nil {
		t.Fatal(err)
	}
	again, err := e.Score(bg, a)
	if err != nil {
		t.Fatal(err)
	}
	if again.DecisionID != retry.DecisionID {
		t.Errorf("a second retry got decision %s, want the first retry's, %s", again.DecisionID, retry.DecisionID)
	}
}

// observeHook calls before, when set, ahead of each observe, with its
// number.
type observeHook struct {
	*Store
	observes atomic.Int64
	before   atomic.Pointer[func(n int64)]
}

func (s *observeHook) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	n := s.observes.Add(1)
	if f := s.before.Load(); f != nil {
		(*f)(n)
	}
	return s.Store.Observe(ctx, ev, st)
}

// stallingSignal holds the first Score to meet it, once armed, until
// released.
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

// TestPausedRetryLeavesTheFirstScoreAlone: node A is deciding an attempt
// when the client's retry reaches node B, whose observe Redis holds
// (CLIENT PAUSE) past the retry's deadline. The retry must not mark the
// attempt as abandoned: it was node A's. It did, its observe cut short
// and unable to tell, and the next retry decided again at once and
// learned the login a second time (found by review). Now its observe
// runs to the end and says it was a retry; the next retry waits for node
// A's decision. Node A is let go when the next retry reads the store a
// second time, and that read waits for its decision: nothing timed is
// asserted.
func TestPausedRetryLeavesTheFirstScoreAlone(t *testing.T) {
	srv := redistest.Start(t)
	const prefix = "rgpaused:"
	sa := newTestStore(t, srv.URL, Options{KeyPrefix: prefix})
	defer sa.Close(context.Background())
	sb := &observeHook{Store: newTestStore(t, srv.URL, Options{KeyPrefix: prefix})}
	defer sb.Close(context.Background())
	sig := &stallingSignal{entered: make(chan struct{})}
	ea, err := engine.New(engine.Options{Store: sa, Rules: allowRules{}, Keyer: testKeyer(t), StoreTimeout: 5 * time.Second,
		Signals: append(signals.Default(signals.Config{}), sig), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	eb := signalEngine(t, sb)
	a := attempt("bob", time.Now(), engine.ResultPasswordOK)
	a.AttemptID = "bob-req-paused"
	bg := context.Background()

	gate := make(chan struct{})
	sig.gate.Store(&gate)
	type result struct {
		d   engine.Decision
		err error
	}
	first := make(chan result, 1)
	go func() {
		d, err := ea.Score(bg, a)
		first <- result{d, err}
	}()
	<-sig.entered // node A observed the attempt, and is deciding it

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	// Paused for longer than the retry's deadline, less than the store's
	// timeout (a second).
	if err := rdb.Do(bg, "CLIENT", "PAUSE", "300", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	_, err = eb.Score(ctx, a)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the retry past its deadline: %v, want deadline exceeded", err)
	}
	if err := sb.flush(bg); err != nil { // once the pause ends: a mark, if one was queued
		t.Fatal(err)
	}

	var (
		r1      result
		release sync.Once
	)
	finishFirst := func() {
		release.Do(func() {
			close(gate)
			r1 = <-first
			if err := sa.flush(bg); err != nil {
				t.Error(err)
			}
		})
	}
	before := func(n int64) {
		if n == 2 {
			finishFirst() // the next retry waits: node A decides
		}
	}
	sb.observes.Store(0)
	sb.before.Store(&before)
	next, err := eb.Score(bg, a)
	sb.before.Store(nil)
	finishFirst()
	if err != nil || r1.err != nil {
		t.Fatal(err, r1.err)
	}
	if next.DecisionID != r1.d.DecisionID {
		t.Errorf("the next retry got decision %s, want node A's, %s", next.DecisionID, r1.d.DecisionID)
	}
	if err := sb.flush(bg); err != nil {
		t.Fatal(err)
	}
	if p, _, err := sa.Profile(bg, "acme", userKey(t, "bob")); err != nil || p.Logins != 1 {
		t.Errorf("%d logins learned (%v), want 1", p.Logins, err)
	}
}
