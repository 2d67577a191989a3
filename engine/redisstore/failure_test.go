package redisstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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
// port: decisions keep coming, marked state unavailable while Redis is
// away; state writes resume after the restart; nothing panics and no
// goroutine is left after Close.
//
// The test is driven by counts, not by wall-clock phases: each phase lasts
// until it has its decisions, and a phase changes only between calls, so
// every decision belongs to exactly one phase. The go-redis client's own
// timeouts are an hour, so while the server is paused only the engine's
// StoreTimeout (carried by the context) can end a Score: a store that
// ignored its context would hang and fail the phase's liveness bound,
// which is minutes, not the tens of milliseconds of the store timeout. The
// up and back phases score through an engine with a generous store
// timeout, so that a slow but healthy Redis on a loaded machine is not
// mistaken for one that is away.
func TestServerFailure(t *testing.T) {
	srv := redistest.Start(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		// The helper waits for each redis-server process it starts.
		goleak.IgnoreAnyFunction("github.com/riskgate/riskgate/internal/redistest.(*Server).start.func1"))

	const (
		timeout  = 50 * time.Millisecond // the store timeout while Redis is away
		generous = time.Minute           // while it is up: never reached by a healthy Redis
		perPhase = 40                    // decisions each phase waits for
		liveness = 2 * time.Minute       // a phase without its decisions by then is stuck
	)
	s := newTestStore(t, srv.URL, Options{DialTimeout: time.Hour, ReadTimeout: time.Hour, WriteTimeout: time.Hour})
	away := newEngine(t, s, timeout)
	up := newEngine(t, s, generous)

	type sample struct {
		took      time.Duration
		available bool
	}
	var (
		// Workers hold gate for reading during one Score; the phase
		// changes (and the server is paused, killed or restarted) with it
		// held for writing, so between calls.
		gate    sync.RWMutex
		phase   = "up"
		samples = map[string][]sample{}
		mu      sync.Mutex // guards samples
		stop    atomic.Bool
		wg      sync.WaitGroup
		seq     atomic.Int64
	)
	engineFor := map[string]*engine.Engine{"up": up, "paused": away, "killed": away, "restarting": up, "back": up}
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
				gate.RLock()
				p := phase
				start := time.Now()
				d, err := engineFor[p].Score(ctx, a)
				took := time.Since(start)
				gate.RUnlock()
				if err != nil {
					errs <- fmt.Errorf("phase %s: Score: %w", p, err)
					return
				}
				mu.Lock()
				samples[p] = append(samples[p], sample{took, d.Signals.State.Available})
				mu.Unlock()
				runtime.Gosched()
			}
		})
	}
	// waitFor waits until cond holds of phase p's samples.
	waitFor := func(p, what string, cond func([]sample) bool) {
		t.Helper()
		deadline := time.Now().Add(liveness)
		for {
			mu.Lock()
			ok := cond(samples[p])
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("phase %s: no %s within %v", p, what, liveness)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	enough := func(ss []sample) bool { return len(ss) >= perPhase }
	setPhase := func(p string, action func()) {
		gate.Lock()
		defer gate.Unlock()
		if action != nil {
			action()
		}
		phase = p
	}

	waitFor("up", "decisions", enough)
	setPhase("paused", srv.Pause)
	waitFor("paused", "decisions", enough)
	setPhase("killed", srv.Kill)
	waitFor("killed", "decisions", enough)
	setPhase("restarting", srv.Restart)
	// The pool finds its connections dead and dials the new server.
	waitFor("restarting", "decision with state", func(ss []sample) bool { return len(ss) > 0 && ss[len(ss)-1].available })
	setPhase("back", nil)
	waitFor("back", "decisions", enough)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for _, p := range []string{"up", "paused", "killed", "back"} {
		ss := samples[p]
		avail := 0
		var took []time.Duration
		for _, x := range ss {
			if x.available {
				avail++
			}
			took = append(took, x.took)
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		// Latency is logged, not asserted: it measures the machine as much
		// as the store (BenchmarkScore* measure it).
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
	}

	// State writes resumed: a login learned now is in the profile, and the
	// windows count again.
	ctx := context.Background()
	a := attempt("after", time.Now().UTC(), engine.ResultPasswordOK)
	for range 3 {
		if d, err := up.Score(ctx, a); err != nil || !d.Signals.State.Available {
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
