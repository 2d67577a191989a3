package redisstore

import (
	"context"
	"fmt"
	"net/netip"
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

// TestCoalescedObserves: concurrent Observes on one Store share round
// trips, and each still gets its own results. Every goroutine fails
// attempts from an address of its own, so the failures each Observe reads
// are its own count so far.
func TestCoalescedObserves(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{})
	defer s.Close(context.Background())
	var rt roundTrips
	s.Client().AddHook(&rt)
	const workers, each = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			ip := netip.AddrFrom4([4]byte{10, 9, byte(w), 1})
			for i := range each {
				ev := &engine.Event{Tenant: "acme", Time: t0.Add(time.Duration(i) * time.Second), IP: ip, Subnet: engine.SubnetOf(ip),
					Username: userKey(t, fmt.Sprint(w, "-", i%3)), Account: userKey(t, fmt.Sprint(w)), Attempt: true, Failed: true}
				var st engine.State
				if err := s.Observe(ctx, ev, &st); err != nil {
					errs <- err
					return
				}
				if got := st.Counts.IP.Failures; got != [3]uint32{uint32(i + 1), uint32(i + 1), uint32(i + 1)} {
					errs <- fmt.Errorf("worker %d attempt %d: address failures %v, want %d", w, i, got, i+1)
					return
				}
				if got := st.Counts.IP.Usernames[0]; got != uint32(min(i+1, 3)) {
					errs <- fmt.Errorf("worker %d attempt %d: usernames %d, want %d", w, i, got, min(i+1, 3))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	calls := rt.n.Load()
	t.Logf("%d Observes in %d round trips", workers*each, calls)
	if calls >= workers*each {
		t.Errorf("%d round trips for %d concurrent Observes: none were coalesced", calls, workers*each)
	}
}

// TestTenantCountsAcrossNodes: a node counts its own attempts at once and
// another node's within a few flush intervals.
func TestTenantCountsAcrossNodes(t *testing.T) {
	srv := redistest.Start(t)
	const interval = 20 * time.Millisecond
	a := newTestStore(t, srv.URL, Options{KeyPrefix: "rgtenant:", TenantFlushInterval: interval})
	b := newTestStore(t, srv.URL, Options{KeyPrefix: "rgtenant:", TenantFlushInterval: interval})
	defer a.Close(context.Background())
	defer b.Close(context.Background())
	ctx := context.Background()
	ev := func(i int) *engine.Event {
		return &engine.Event{Tenant: "acme", Time: t0.Add(time.Duration(i) * time.Second), IP: srvIP, Subnet: engine.SubnetOf(srvIP), Attempt: true, Failed: i%2 == 0}
	}
	var st engine.State
	for i := range 10 {
		st = engine.State{}
		if err := a.Observe(ctx, ev(i), &st); err != nil {
			t.Fatal(err)
		}
	}
	if st.Counts.TenantAttempts != [3]uint32{10, 10, 10} || st.Counts.TenantFailures != [3]uint32{5, 5, 5} {
		t.Fatalf("node a: attempts %v failures %v, want its own 10 and 5 at once", st.Counts.TenantAttempts, st.Counts.TenantFailures)
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := 10; ; i++ {
		st = engine.State{}
		if err := b.Observe(ctx, ev(i), &st); err != nil {
			t.Fatal(err)
		}
		n := uint32(i - 10 + 1) // b's own
		if st.Counts.TenantAttempts[0] == 10+n {
			break
		}
		if st.Counts.TenantAttempts[0] < n || time.Now().After(deadline) {
			t.Fatalf("node b: attempts %v after %d of its own, want a's 10 too", st.Counts.TenantAttempts, n)
		}
		time.Sleep(interval / 2)
	}
}
