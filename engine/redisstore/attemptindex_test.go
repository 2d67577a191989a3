package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestAttemptIndexIsTrimmed: a user's index of recent attempts (for
// Forget) keeps its expired ids only until one of the user's next few
// attempts trims them, which the script does once in eight attempts
// rather than on each. A user scored without pause for longer than the
// attempt window, then 200 more times within one second, has no id left
// in the index that expired before that second.
func TestAttemptIndexIsTrimmed(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{AttemptWindow: time.Second, FlushInterval: time.Millisecond})
	defer s.Close(context.Background())
	e := newEngine(t, s, 5*time.Second)
	ctx := context.Background()
	n := 0
	score := func() {
		t.Helper()
		a := attempt("alice", t0, engine.ResultPasswordOK)
		a.AttemptID = "alice-" + strconv.Itoa(n)
		n++
		if _, err := e.Score(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// Ids expire a second after they come, and the index with its last
	// one: scored without pause for three seconds, it holds ids that
	// expired while it lived.
	for start := time.Now().Unix(); time.Now().Unix() < start+3; {
		score()
	}
	checkTrimmed(t, s, srv.Addr, s.keys.user("acme", userKey(t, "alice"), sufAttempts), score)
}

// checkTrimmed checks that the index at zk, an ordered set of ids scored
// by their expiry, holds no id that expired before the second in which
// score (one Score a call) was called 200 times: one of them trimmed it.
func checkTrimmed(t *testing.T, s *Store, addr, zk string, score func()) {
	t.Helper()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for try := 0; ; try++ {
		// 200 within one second: one of them trims (at odds of
		// 1-(7/8)^200 for attempts, more for pending decisions), every id
		// that expired before that second.
		sec := time.Now().Unix()
		for range 200 {
			score()
		}
		if err := s.flush(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().Unix() != sec {
			if try == 5 {
				t.Fatal("200 Scores never fit within one second")
			}
			continue
		}
		total, err := rdb.ZCard(ctx, zk).Result()
		if err != nil || total < 200 {
			t.Fatalf("the index holds %d ids (%v), want at least the 200 live ones", total, err)
		}
		expired, err := rdb.ZCount(ctx, zk, "-inf", fmt.Sprint("(", sec)).Result()
		if err != nil || expired != 0 {
			t.Errorf("the index holds %d of %d ids that expired before %d (%v), want none", expired, total, sec, err)
		}
		return
	}
}

// TestPendingIndexIsTrimmed: a user's index of pending decisions (for
// Forget) keeps its expired ids only until one of the user's next few
// pending decisions trims them, which the script does for about one in
// six (by the signed decision id) rather than for each. Scored without
// pause for longer than the pending decisions live, then 200 more times
// within one second, the index holds no id that expired before that
// second.
func TestPendingIndexIsTrimmed(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{PendingTTL: time.Second, FlushInterval: time.Millisecond})
	defer s.Close(context.Background())
	e := newEngine(t, s, 5*time.Second)
	score := func() {
		t.Helper()
		// Allowed before the result is known: pending its outcome.
		if _, err := e.Score(context.Background(), attempt("alice", t0, engine.ResultUnknown)); err != nil {
			t.Fatal(err)
		}
	}
	for start := time.Now().Unix(); time.Now().Unix() < start+3; {
		score()
	}
	checkTrimmed(t, s, srv.Addr, s.keys.user("acme", userKey(t, "alice"), sufPending), score)
}
