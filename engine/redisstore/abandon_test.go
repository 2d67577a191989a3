package redisstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
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
