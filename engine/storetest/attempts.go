package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// attemptEvent is a failed attempt with a password and an attempt id: it
// touches every window.
func attemptEvent(id, ip, user string, at time.Time) *engine.Event {
	ev := event("t1", ip, user, at, true)
	ev.Password = key("password:" + user)
	if id != "" {
		ev.AttemptID = key("attempt:" + id)
	}
	return ev
}

// countsOnce checks that the windows count n failed attempts from one
// address, one account and one password.
func countsOnce(t *testing.T, what string, st engine.State, n uint32) {
	t.Helper()
	c := st.Counts
	if c.IP.Failures[0] != n || c.Subnet.Failures[0] != n || c.AccountFailures[0] != n || c.TenantFailures[0] != n || c.TenantAttempts[0] != n {
		t.Errorf("%s: failures ip %v subnet %v account %v tenant %v, attempts %v; want %d each",
			what, c.IP.Failures, c.Subnet.Failures, c.AccountFailures, c.TenantFailures, c.TenantAttempts, n)
	}
	checkDistinct(t, what+": usernames per address", c.IP.Usernames, [3]int{1, 1, 1})
	checkDistinct(t, what+": accounts per password", c.PasswordAccounts, [3]int{1, 1, 1})
}

// testAttemptOnce: an event observed again with the same AttemptID (a
// redelivery) is read, not counted, and says so; once a decision is
// committed for it, a redelivery gets the record back. Another AttemptID,
// or none, counts.
func testAttemptOnce(t *testing.T, s engine.Store) {
	ctx := context.Background()
	first := observe(t, s, attemptEvent("a1", "198.51.100.7", "alice", base))
	if first.Replayed {
		t.Fatal("the first observation of an attempt says Replayed")
	}
	countsOnce(t, "first", first, 1)
	again := observe(t, s, attemptEvent("a1", "198.51.100.7", "alice", base))
	if !again.Replayed {
		t.Error("a redelivered attempt is not Replayed")
	}
	if len(again.Decided) != 0 {
		t.Errorf("a record before any was committed: %q", again.Decided)
	}
	countsOnce(t, "redelivered", again, 1)

	record := []byte("\x00the decision\xff")
	if err := s.Commit(ctx, &engine.Commit{Decided: &engine.Decided{Tenant: "t1", AttemptID: key("attempt:a1"), Record: record}}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	third := observe(t, s, attemptEvent("a1", "198.51.100.7", "alice", base.Add(time.Second)))
	if !third.Replayed || !bytes.Equal(third.Decided, record) {
		t.Errorf("after the commit: Replayed %v, Decided %q; want true, %q", third.Replayed, third.Decided, record)
	}
	countsOnce(t, "third", third, 1)

	// The same id in another tenant is another attempt.
	other := attemptEvent("a1", "198.51.100.7", "alice", base)
	other.Tenant = "t2"
	if st := observe(t, s, other); st.Replayed {
		t.Error("an attempt id of tenant t1 replays in tenant t2")
	}
	if st := observe(t, s, attemptEvent("a2", "198.51.100.7", "alice", base)); st.Replayed {
		t.Error("another attempt id says Replayed")
	} else {
		countsOnce(t, "another attempt", st, 2)
	}
	observe(t, s, attemptEvent("", "198.51.100.7", "alice", base))
	st := observe(t, s, attemptEvent("", "198.51.100.7", "alice", base))
	if st.Replayed {
		t.Error("an attempt without an id says Replayed")
	}
	countsOnce(t, "attempts without ids", st, 4)
}

// testAttemptConcurrent: of concurrent observations of one attempt (the
// same message on two nodes at once), exactly one counts.
func testAttemptConcurrent(t *testing.T, s engine.Store) {
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for range n {
		wg.Go(func() {
			var st engine.State
			ev := attemptEvent("race", "198.51.100.1", "bob", base)
			if err := s.Observe(context.Background(), ev, &st); err != nil {
				t.Errorf("Observe: %v", err)
				return
			}
			if !st.Replayed {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d of %d concurrent observations of one attempt counted, want 1", fresh, n)
	}
	st := observe(t, s, attemptEvent("race", "198.51.100.1", "bob", base))
	countsOnce(t, "after the race", st, 1)
}
