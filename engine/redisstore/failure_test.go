package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestServerFailure streams Scores through a real engine while the Redis
// server is paused (requests hang), killed, and restarted on the same
// port: decisions keep coming within the store deadline, marked state
// unavailable while Redis is away; state writes resume after the restart;
// nothing panics and no goroutine is left after Close.
func TestServerFailure(t *testing.T) {
	srv := redistest.Start(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		// The helper waits for each redis-server process it starts.
		goleak.IgnoreAnyFunction("github.com/riskgate/riskgate/internal/redistest.(*Server).start.func1"))

	const timeout = 50 * time.Millisecond
	s := newTestStore(t, srv.URL, Options{})
	e := newEngine(t, s, timeout)

	type sample struct {
		took      time.Duration
		available bool
	}
	var (
		mu      sync.Mutex
		phase   = "up"
		samples = map[string][]sample{}
		stop    atomic.Bool
		wg      sync.WaitGroup
		seq     atomic.Int64
	)
	setPhase := func(p string) {
		mu.Lock()
		phase = p
		mu.Unlock()
	}
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			ctx := context.Background()
			for !stop.Load() {
				i := seq.Add(1)
				res := engine.ResultPasswordOK
				if i%3 == 0 {
					res = engine.ResultPasswordBad
				}
				a := attempt(fmt.Sprintf("w%d-%d", w, i%20), time.Now().UTC(), res)
				mu.Lock()
				p := phase
				mu.Unlock()
				start := time.Now()
				d, err := e.Score(ctx, a)
				took := time.Since(start)
				if err != nil {
					errs <- fmt.Errorf("phase %s: Score: %w", p, err)
					return
				}
				mu.Lock()
				// A call that began in one phase and ended in another
				// belongs to neither.
				if p == phase {
					samples[p] = append(samples[p], sample{took, d.Signals.State.Available})
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		})
	}

	time.Sleep(200 * time.Millisecond)
	setPhase("paused")
	srv.Pause()
	time.Sleep(400 * time.Millisecond)
	setPhase("killed")
	srv.Kill()
	time.Sleep(400 * time.Millisecond)
	setPhase("restarting")
	srv.Restart()
	// go-redis re-dials a server it gave up on about once a second.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		rs := samples["restarting"]
		back := len(rs) > 0 && rs[len(rs)-1].available
		mu.Unlock()
		if back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("state never came back after the restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
	setPhase("back")
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for _, p := range []string{"up", "paused", "killed", "back"} {
		ss := samples[p]
		if len(ss) < 10 {
			t.Fatalf("phase %s: only %d decisions", p, len(ss))
		}
		avail := 0
		var took []time.Duration
		for _, x := range ss {
			if x.available {
				avail++
			}
			took = append(took, x.took)
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		t.Logf("phase %-7s %4d decisions, %4d with state; latency p50 %v, max %v", p, len(ss), avail, took[len(took)/2], took[len(took)-1])
		switch p {
		case "up", "back":
			if avail != len(ss) {
				t.Errorf("phase %s: %d of %d decisions without state", p, len(ss)-avail, len(ss))
			}
		default:
			if avail != 0 {
				t.Errorf("phase %s: %d decisions claim state while Redis is away", p, avail)
			}
		}
		// A Score makes two store calls at most (Observe, and Commit when
		// its queue is full), each bounded by the timeout; the rest is
		// slack for a shared, race-instrumented machine.
		if max := took[len(took)-1]; max > 2*timeout+300*time.Millisecond {
			t.Errorf("phase %s: a Score took %v, store timeout %v", p, max, timeout)
		}
	}

	// State writes resumed: a login learned now is in the profile, and the
	// windows count again.
	ctx := context.Background()
	a := attempt("after", time.Now().UTC(), engine.ResultPasswordOK)
	for range 3 {
		if d, err := e.Score(ctx, a); err != nil || !d.Signals.State.Available {
			t.Fatalf("after restart: %v, available %v", err, d.Signals.State.Available)
		}
	}
	p, ok, err := s.Profile(ctx, "acme", userKey(t, "after"))
	if err != nil || !ok || p.Logins != 3 {
		t.Errorf("profile after restart: ok %v err %v logins %d, want 3", ok, err, p.Logins)
	}
	if st := s.Stats(); st.Dropped == 0 {
		t.Errorf("stats %+v: no buffered write counted as dropped during the outage", st)
	}

	// Direct calls while the server is away wrap ErrUnavailable.
	srv.Kill()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	var st engine.State
	err = s.Observe(cctx, &engine.Event{Tenant: "acme", Time: t0, IP: srvIP, Subnet: engine.SubnetOf(srvIP)}, &st)
	cancel()
	if !errors.Is(err, engine.ErrUnavailable) {
		t.Errorf("Observe with the server down = %v, want ErrUnavailable", err)
	}
	srv.Restart()

	cctx, cancel = context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, _, err := s.Profile(ctx, "acme", userKey(t, "after")); !errors.Is(err, engine.ErrUnavailable) {
		t.Errorf("Profile after Close = %v, want ErrUnavailable", err)
	}
}
