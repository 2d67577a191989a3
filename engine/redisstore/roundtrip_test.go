package redisstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestOneRoundTripPerScore counts the client's network calls: every Score
// (learning, leaving a pending decision or failing) costs exactly one,
// Commits included, once the scripts are loaded.
func TestOneRoundTripPerScore(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{FlushInterval: time.Hour})
	defer s.Close(context.Background())
	var rt roundTrips
	s.Client().AddHook(&rt)
	e := newEngine(t, s, time.Second)
	ctx := context.Background()
	// Warm up: the first pipeline opens a connection, whose handshake
	// (HELLO, CLIENT SETINFO) goes through the hooks too.
	if _, err := e.Score(ctx, attempt("warm", t0, engine.ResultPasswordBad)); err != nil {
		t.Fatal(err)
	}
	results := []engine.Result{engine.ResultPasswordOK, engine.ResultUnknown, engine.ResultPasswordBad, engine.ResultNoSuchUser}
	const n = 200
	var pendings []string
	for i := range n {
		a := attempt(fmt.Sprintf("u%d", i%17), t0.Add(time.Duration(i)*time.Second), results[i%len(results)])
		if i%5 == 0 {
			a.UserID = "" // a username that matched no account
		}
		before := rt.n.Load()
		d, err := e.Score(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Signals.State.Available {
			t.Fatalf("score %d: state unavailable", i)
		}
		if got := rt.n.Load() - before; got != 1 {
			t.Fatalf("score %d (%s): %d round trips, want 1", i, a.Result, got)
		}
		if a.Result == engine.ResultUnknown && a.UserID != "" {
			pendings = append(pendings, d.DecisionID)
		}
	}
	// A report is one round trip too (TakePending; the learn it commits
	// rides with the next call).
	before := rt.n.Load()
	if err := e.Report(ctx, engine.Outcome{Tenant: "acme", DecisionID: pendings[0], Outcome: engine.LoginSucceeded}); err != nil {
		t.Fatal(err)
	}
	if got := rt.n.Load() - before; got != 1 {
		t.Errorf("report: %d round trips, want 1", got)
	}
	// And what was committed along the way is all there: u1's successful
	// logins, plus the reported one (the first pending decision, at i = 1,
	// is u1's).
	want := 1
	for i := range n {
		if i%17 == 1 && i%4 == 0 && i%5 != 0 {
			want++
		}
	}
	p, ok, err := s.Profile(ctx, "acme", userKey(t, "u1"))
	if err != nil || !ok || int(p.Logins) != want {
		t.Errorf("u1's profile: ok %v err %v logins %d, want %d", ok, err, p.Logins, want)
	}
}

// TestBackgroundFlushReachesOtherNodes: a Commit with no call after it is
// flushed by the timer, and another Store (another scoring node) sees it.
func TestBackgroundFlushReachesOtherNodes(t *testing.T) {
	srv := redistest.Start(t)
	a := newTestStore(t, srv.URL, Options{KeyPrefix: "rgnodes:", FlushInterval: 2 * time.Millisecond})
	b := newTestStore(t, srv.URL, Options{KeyPrefix: "rgnodes:"})
	defer a.Close(context.Background())
	defer b.Close(context.Background())
	ctx := context.Background()
	u := userKey(t, "bob")
	if err := a.Commit(ctx, &engine.Commit{Learn: &engine.Login{Tenant: "acme", User: u, Time: t0, Country: "FR"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		p, ok, err := b.Profile(ctx, "acme", u)
		if err != nil {
			t.Fatal(err)
		}
		if ok && p.Logins == 1 && engine.Has(p.Countries, "FR") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b never saw node a's commit: %v %+v", ok, p)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := a.Stats(); st.Flushes == 0 {
		t.Errorf("stats %+v: no background flush counted", st)
	}
}

// TestConcurrentLearnersOnSeveralNodes: three Stores (three scoring nodes)
// learn logins of the same users while they also read and compact the
// profiles: no login is lost or counted twice.
func TestConcurrentLearnersOnSeveralNodes(t *testing.T) {
	srv := redistest.Start(t)
	var nodes []*Store
	for range 3 {
		s := newTestStore(t, srv.URL, Options{KeyPrefix: "rgmulti:"})
		defer s.Close(context.Background())
		nodes = append(nodes, s)
	}
	const users, each = 4, 60
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes)*users)
	for ni, s := range nodes {
		for u := range users {
			wg.Go(func() {
				ctx := context.Background()
				key := userKey(t, fmt.Sprint(u))
				for i := range each {
					l := &engine.Login{Tenant: "acme", User: key, Time: t0.Add(time.Duration(ni*each+i) * time.Minute), Country: "FR", Device: engine.Key{byte(ni), byte(i % 3)}}
					if err := s.Commit(ctx, &engine.Commit{Learn: l}); err != nil {
						errs <- err
						return
					}
					if i%7 == 0 { // a Score reads (and compacts) now and then
						var st engine.State
						ev := &engine.Event{Tenant: "acme", Time: l.Time, User: key, Account: key, IP: srvIP, Subnet: engine.SubnetOf(srvIP), Attempt: true}
						if err := s.Observe(ctx, ev, &st); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range nodes {
		if err := s.flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for u := range users {
		for ni, s := range nodes {
			p, ok, err := s.Profile(ctx, "acme", userKey(t, fmt.Sprint(u)))
			if err != nil || !ok || p.Logins != uint32(len(nodes)*each) {
				t.Errorf("user %d seen from node %d: ok %v err %v logins %d, want %d", u, ni, ok, err, p.Logins, len(nodes)*each)
			}
		}
	}
	var compactions uint64
	for _, s := range nodes {
		compactions += s.Stats().Compactions
	}
	if compactions == 0 {
		t.Error("no compaction happened")
	}
}

var srvIP = netipMust("81.2.69.160")
