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

// testForgetErasesAttempts: Forget erases the decisions kept for the
// user's attempts (their reasons may quote the erased history: "last
// login from GB"), and a decision committed for one after the erasure (a
// Score still deciding while the user was erased) is not kept either. The
// attempt ids stay remembered: a redelivery is read, says Erased, and is
// counted nowhere again, not in the account window the erasure emptied
// either. Other users' attempts, the same user's in another tenant and
// attempts of no known user keep their records; the user's attempts
// after the erasure are remembered as any.
func testForgetErasesAttempts(t *testing.T, s engine.Store) {
	ctx := context.Background()
	record := func(id string) []byte {
		return []byte("fingerpr{\"reason\":\"last login from GB\",\"attempt\":\"" + id + "\"}")
	}
	commit := func(tenant, id, user string) {
		t.Helper()
		d := &engine.Decided{Tenant: tenant, AttemptID: key("attempt:" + id), Record: record(id)}
		if user != "" {
			d.User = key("user:" + user)
		}
		if err := s.Commit(ctx, &engine.Commit{Decided: d}); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	// judy's attempts from one address: one decided, one still being
	// decided when she is erased; kim's from another; and nora, who
	// typed a username that matched no account (no user key).
	observe(t, s, attemptEvent("j1", "198.51.100.7", "judy", base))
	commit("t1", "j1", "judy")
	observe(t, s, attemptEvent("j2", "198.51.100.7", "judy", base))
	observe(t, s, attemptEvent("k1", "198.51.100.8", "kim", base))
	commit("t1", "k1", "kim")
	nora := func() *engine.Event {
		ev := attemptEvent("n1", "198.51.100.9", "nora", base)
		ev.User, ev.Account = engine.Key{}, ev.Username
		return ev
	}
	observe(t, s, nora())
	commit("t1", "n1", "")
	other := attemptEvent("j1", "198.51.100.7", "judy", base)
	other.Tenant = "t2"
	observe(t, s, other)
	commit("t2", "j1", "judy")

	if err := s.Forget(ctx, "t1", key("user:judy")); err != nil {
		t.Fatal(err)
	}
	commit("t1", "j2", "judy") // the decision that was being made

	for _, id := range []string{"j1", "j2"} {
		st := observe(t, s, attemptEvent(id, "198.51.100.7", "judy", base.Add(time.Second)))
		if !st.Replayed || !st.Erased || len(st.Decided) != 0 {
			t.Errorf("%s after Forget: Replayed %v, Erased %v, Decided %q; want true, true, nothing", id, st.Replayed, st.Erased, st.Decided)
		}
		c := st.Counts
		if c.IP.Failures[0] != 2 || c.AccountFailures != [3]uint32{} || c.TenantAttempts[0] != 4 {
			t.Errorf("%s after Forget: failures ip %v account %v, tenant attempts %v; want 2, none, 4: a redelivery counts nowhere",
				id, c.IP.Failures, c.AccountFailures, c.TenantAttempts)
		}
	}
	for _, c := range []struct {
		what string
		ev   *engine.Event
		id   string
	}{
		{"another user's attempt", attemptEvent("k1", "198.51.100.8", "kim", base), "k1"},
		{"an attempt of no known user", nora(), "n1"},
		{"the user's attempt in another tenant", other, "j1"},
	} {
		st := observe(t, s, c.ev)
		if !st.Replayed || st.Erased || !bytes.Equal(st.Decided, record(c.id)) {
			t.Errorf("%s after Forget: Replayed %v, Erased %v, Decided %q; want its record", c.what, st.Replayed, st.Erased, st.Decided)
		}
	}
	// The user's next attempt is remembered as any.
	if st := observe(t, s, attemptEvent("j3", "198.51.100.7", "judy", base.Add(time.Minute))); st.Replayed || st.Erased {
		t.Errorf("a new attempt after Forget: Replayed %v, Erased %v", st.Replayed, st.Erased)
	}
	commit("t1", "j3", "judy")
	if st := observe(t, s, attemptEvent("j3", "198.51.100.7", "judy", base.Add(time.Minute))); !st.Replayed || st.Erased || !bytes.Equal(st.Decided, record("j3")) {
		t.Errorf("a new attempt's redelivery after Forget: Replayed %v, Erased %v, Decided %q", st.Replayed, st.Erased, st.Decided)
	}
}

// testAttemptMark: a record of engine.MinRecord bytes is a mark (an
// attempt that will have no decision: its Score abandoned, or its outcome
// reported first), kept only where the attempt is remembered and holds
// nothing yet. A mark never replaces a decision, another mark or an
// erased attempt's mark (a stalled Score's mark over a retry's decision
// would have the next retry decide a third time), and is not kept for an
// attempt the store does not remember: the attempt would read as counted
// when it never was.
func testAttemptMark(t *testing.T, s engine.Store) {
	ctx := context.Background()
	commit := func(id, user string, record []byte) {
		t.Helper()
		d := &engine.Decided{Tenant: "t1", AttemptID: key("attempt:" + id), User: key("user:" + user), Record: record}
		if err := s.Commit(ctx, &engine.Commit{Decided: d}); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	read := func(what, id, user string, want []byte) {
		t.Helper()
		st := observe(t, s, attemptEvent(id, "198.51.100.7", user, base))
		if !st.Replayed || st.Erased || !bytes.Equal(st.Decided, want) {
			t.Errorf("%s: Replayed %v, Erased %v, Decided %q; want true, false, %q", what, st.Replayed, st.Erased, st.Decided, want)
		}
	}
	mark := []byte("mark0001")
	if len(mark) != engine.MinRecord {
		t.Fatalf("the test's mark is %d bytes, want engine.MinRecord", len(mark))
	}
	decision := []byte("mark0001{\"decision\":\"deny\"}")

	observe(t, s, attemptEvent("m1", "198.51.100.7", "mia", base))
	commit("m1", "mia", mark)
	read("a mark", "m1", "mia", mark)
	commit("m1", "mia", []byte("mark0002"))
	read("a second mark", "m1", "mia", mark)
	commit("m1", "mia", decision)
	read("a decision after the mark", "m1", "mia", decision)
	commit("m1", "mia", mark)
	read("a mark after the decision", "m1", "mia", decision)

	// Of no known user, as an attempt whose username matched no account.
	noUser := attemptEvent("m2", "198.51.100.7", "", base)
	noUser.AttemptID = key("attempt:m2")
	observe(t, s, noUser)
	if err := s.Commit(ctx, &engine.Commit{Decided: &engine.Decided{Tenant: "t1", AttemptID: noUser.AttemptID, Record: mark}}); err != nil {
		t.Fatal(err)
	}
	if st := observe(t, s, noUser); !st.Replayed || !bytes.Equal(st.Decided, mark) {
		t.Errorf("a mark of an attempt of no known user: Replayed %v, Decided %q", st.Replayed, st.Decided)
	}

	// Never observed: the mark keeps nothing, and the attempt counts.
	commit("m3", "mia", mark)
	if st := observe(t, s, attemptEvent("m3", "198.51.100.7", "mia", base)); st.Replayed {
		t.Errorf("an attempt first seen after a mark for it says Replayed (Decided %q): it was never counted", st.Decided)
	}

	// Erased with its user: the mark does not bring it back.
	observe(t, s, attemptEvent("e1", "198.51.100.9", "eve", base))
	if err := s.Forget(ctx, "t1", key("user:eve")); err != nil {
		t.Fatal(err)
	}
	commit("e1", "eve", mark)
	if st := observe(t, s, attemptEvent("e1", "198.51.100.9", "eve", base)); !st.Replayed || !st.Erased || len(st.Decided) != 0 {
		t.Errorf("a mark after Forget: Replayed %v, Erased %v, Decided %q; want true, true, nothing", st.Replayed, st.Erased, st.Decided)
	}
}
