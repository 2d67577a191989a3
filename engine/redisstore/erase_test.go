package redisstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/signals"
)

// signalEngine is newEngine with the default signals: the user's
// baseline shows in the decisions.
func signalEngine(t testing.TB, s engine.Store) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Options{
		Store: s, Rules: allowRules{}, Keyer: testKeyer(t), StoreTimeout: time.Second,
		Signals: signals.Default(signals.Config{}), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestForgetAcrossTheUpgrade: an attempt remembered by a node of a
// version before the index of a user's attempts (its key holds the record
// as it always did, and no index names it) is still served to a
// redelivery after the upgrade, and, not found by Forget, expires with the
// attempt window: Forget neither fails on it nor touches it. An attempt
// the index names whose key expired is not brought back as an erased
// mark.
func TestForgetAcrossTheUpgrade(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{})
	defer s.Close(context.Background())
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	user, id := userKey(t, "judy"), testKeyer(t).Attempt("acme", "before-upgrade")
	record := []byte("fingerpr{\"reasons\":[]}")
	if err := rdb.Set(ctx, s.keys.attempt("acme", id), record, 10*time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	gone := testKeyer(t).Attempt("acme", "expired")
	if err := rdb.ZAdd(ctx, s.keys.user("acme", user, sufAttempts), redis.Z{Score: float64(time.Now().Unix() + 600), Member: string(gone[:])}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, "acme", user); err != nil {
		t.Fatal(err)
	}
	ev := &engine.Event{Tenant: "acme", Time: t0, IP: netipMust("81.2.69.160"), Subnet: engine.SubnetOf(netipMust("81.2.69.160")),
		User: user, Account: user, Attempt: true, AttemptID: id}
	var st engine.State
	if err := s.Observe(ctx, ev, &st); err != nil {
		t.Fatal(err)
	}
	if !st.Replayed || st.Erased || !bytes.Equal(st.Decided, record) {
		t.Errorf("a record from before the upgrade: Replayed %v, Erased %v, Decided %q; want it served", st.Replayed, st.Erased, st.Decided)
	}
	if ttl, err := rdb.TTL(ctx, s.keys.attempt("acme", id)).Result(); err != nil || ttl <= 0 || ttl > 10*time.Minute {
		t.Errorf("its time to live: %v (%v), want the attempt window's", ttl, err)
	}
	if n, err := rdb.Exists(ctx, s.keys.attempt("acme", gone)).Result(); err != nil || n != 0 {
		t.Errorf("an expired attempt the index named: %d keys (%v), want none", n, err)
	}
	if n, err := rdb.Exists(ctx, s.keys.user("acme", user, sufAttempts)).Result(); err != nil || n != 0 {
		t.Errorf("the erased user's index: %d keys (%v), want none", n, err)
	}
}

// TestForgetReachesEveryNode: two nodes on one Redis. The node that
// decided an attempt remembers its decision for retries; the user is
// erased through the other. A retry on either node is then decided
// afresh, without the erased baseline, and is counted once; the attempt's key holds only the erased mark, with its time to
// live.
func TestForgetReachesEveryNode(t *testing.T) {
	srv := redistest.Start(t)
	const prefix = "rgerase:"
	s1 := newTestStore(t, srv.URL, Options{KeyPrefix: prefix})
	s2 := newTestStore(t, srv.URL, Options{KeyPrefix: prefix})
	defer s1.Close(context.Background())
	defer s2.Close(context.Background())
	e1, e2 := signalEngine(t, s1), signalEngine(t, s2)
	ctx := context.Background()
	for i := range 3 {
		if _, err := e1.Score(ctx, attempt("judy", t0.Add(time.Duration(i)*24*time.Hour), engine.ResultPasswordOK)); err != nil {
			t.Fatal(err)
		}
	}
	// A failure, so that counting it again would show in the address's
	// failures (the tenant's counts reach other nodes only by their flush).
	a := attempt("judy", t0.Add(3*24*time.Hour), engine.ResultPasswordBad)
	a.AttemptID = "judy-req-1"
	first, err := e1.Score(ctx, a)
	if err != nil || !first.Signals.User.Known || first.Signals.User.Logins != 3 {
		t.Fatalf("before erasure: %v, user %+v", err, first.Signals.User)
	}
	if err := s1.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e2.Forget(ctx, "acme", "user-judy"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		name string
		e    *engine.Engine
	}{{"the deciding node", e1}, {"the erasing node", e2}} {
		d, err := n.e.Score(ctx, a)
		if err != nil || d.DecisionID == first.DecisionID || d.Signals.User.Known || d.Signals.User.Logins != 0 {
			t.Errorf("retry on %s after erasure: %v, decision %s (first %s), user %+v", n.name, err, d.DecisionID, first.DecisionID, d.Signals.User)
		}
		if got := d.Signals.IP.Failures10m; got != 1 || first.Signals.IP.Failures10m != 1 {
			t.Errorf("retry on %s after erasure: ip failures_10m %d (first %d), want 1: counted again", n.name, got, first.Signals.IP.Failures10m)
		}
	}
	if err := s1.flush(ctx); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	k := s1.keys.attempt("acme", testKeyer(t).Attempt("acme", a.AttemptID))
	if v, err := rdb.Get(ctx, k).Result(); err != nil || v != erasedMark {
		t.Errorf("the attempt's key holds %q (%v), want the erased mark", v, err)
	}
	if ttl, err := rdb.TTL(ctx, k).Result(); err != nil || ttl <= 0 {
		t.Errorf("the attempt's key: TTL %v (%v), want its own", ttl, err)
	}
}

// failKey fails, while armed, every script call that names key: the
// connection lost, or the store's time out reached, in the middle of a
// Forget, after its first round trip.
type failKey struct {
	key   string
	armed atomic.Bool
}

var errFailKey = errors.New("failKey: connection reset")

func (f *failKey) names(cmd redis.Cmder) bool {
	for _, a := range cmd.Args() {
		// The script calls pass their keys by pointer (batch.go's queue).
		if s, ok := a.(*string); ok && *s == f.key {
			return true
		}
	}
	return false
}

func (f *failKey) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f *failKey) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.armed.Load() && f.names(cmd) {
			cmd.SetErr(errFailKey)
			return errFailKey
		}
		return next(ctx, cmd)
	}
}

func (f *failKey) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if f.armed.Load() && slices.ContainsFunc(cmds, f.names) {
			for _, c := range cmds {
				c.SetErr(errFailKey)
			}
			return errFailKey
		}
		return next(ctx, cmds)
	}
}

// TestForgetAgainAfterAFailure: a Forget that fails after its first
// round trip (the profile deleted, the user's indexes read) is an error,
// and the Forget the caller sends again erases what the first left: the
// decision kept for the user's attempt and the pending decision. The
// indexes that name them went with the first round trip, and the second
// Forget answered success having erased nothing of them.
func TestForgetAgainAfterAFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"server", func(t *testing.T) string { return redistest.Start(t).URL }},
		{"cluster", func(t *testing.T) string {
			if testing.Short() {
				t.Skip("starts a three-node cluster")
			}
			return redistest.StartCluster(t, 3).URL
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t, tc.url(t), Options{FlushInterval: time.Hour})
			defer s.Close(context.Background())
			e := signalEngine(t, s)
			ctx := context.Background()
			a := attempt("judy", t0, engine.ResultPasswordOK)
			a.AttemptID = "judy-req-1"
			if _, err := e.Score(ctx, a); err != nil {
				t.Fatal(err)
			}
			// Scored before the password check: pending its outcome.
			// Now, so that its outcome is still awaited.
			p := attempt("judy", time.Now(), engine.ResultUnknown)
			pd, err := e.Score(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.flush(ctx); err != nil {
				t.Fatal(err)
			}
			attemptKey := s.keys.attempt("acme", testKeyer(t).Attempt("acme", a.AttemptID))
			pendingKey := s.keys.pending("acme", pd.DecisionID)
			rdb := s.Client()
			for _, k := range []string{attemptKey, pendingKey} {
				if n, err := rdb.Exists(ctx, k).Result(); err != nil || n != 1 {
					t.Fatalf("before Forget: %s: %d keys (%v)", k, n, err)
				}
			}

			fail := &failKey{key: attemptKey}
			rdb.AddHook(fail)
			fail.armed.Store(true)
			if err := e.Forget(ctx, "acme", "user-judy"); err == nil {
				t.Fatal("Forget with its erasure failing: no error")
			}
			fail.armed.Store(false)
			if err := e.Forget(ctx, "acme", "user-judy"); err != nil {
				t.Fatalf("Forget again: %v", err)
			}
			if v, err := rdb.Get(ctx, attemptKey).Result(); err != nil || v != erasedMark {
				t.Errorf("the attempt's key after Forget again: %.40q (%v), want the erased mark", v, err)
			}
			if n, err := rdb.Exists(ctx, pendingKey).Result(); err != nil || n != 0 {
				t.Errorf("the pending decision after Forget again: %d keys (%v), want none", n, err)
			}
			// Its outcome would have learned the login back into a profile.
			if err := e.Report(ctx, engine.Outcome{Tenant: "acme", DecisionID: pd.DecisionID, Outcome: engine.LoginSucceeded}); !errors.Is(err, engine.ErrUnknownDecision) {
				t.Errorf("the outcome of the erased user's pending decision: %v, want ErrUnknownDecision", err)
			}
			if _, ok, err := s.Profile(ctx, "acme", userKey(t, "judy")); err != nil || ok {
				t.Errorf("the erased user's profile: ok %v (%v), want none", ok, err)
			}
			for _, suf := range []string{sufProfile, sufPending, sufAttempts} {
				k := s.keys.user("acme", userKey(t, "judy"), suf)
				if n, err := rdb.Exists(ctx, k).Result(); err != nil || n != 0 {
					t.Errorf("%s after Forget again: %d keys (%v), want none", k, n, err)
				}
			}
		})
	}
}

// beforeTheMark reads the store as a node of the version before the
// erased mark does: the mark is to it what any attempt's key holds, a
// record (as its attemptResult returned what followed the seen byte).
// The engine takes a record as that version did: one no longer than a
// fingerprint is decided again, with its consequences; a longer one whose
// fingerprint is not the attempt's is refused.
type beforeTheMark struct{ *Store }

func (s beforeTheMark) Observe(ctx context.Context, ev *engine.Event, st *engine.State) error {
	err := s.Store.Observe(ctx, ev, st)
	if st.Erased {
		st.Erased, st.Decided = false, append(st.Decided[:0], erasedMark...)
	}
	return err
}

// TestForgetThroughAnUpgrade: through a rolling upgrade a node of the
// earlier version shares the store. A retry of an erased user's attempt
// reaching it must not bring back what the erasure took: with a mark it
// took for a record it could not read, it decided the retry again and
// learned the login, a new profile with the device and the place. It
// refuses it now, and nothing is learned.
func TestForgetThroughAnUpgrade(t *testing.T) {
	srv := redistest.Start(t)
	const prefix = "rgupgrade:"
	s := newTestStore(t, srv.URL, Options{KeyPrefix: prefix})
	earlier := newTestStore(t, srv.URL, Options{KeyPrefix: prefix})
	defer s.Close(context.Background())
	defer earlier.Close(context.Background())
	e := signalEngine(t, s)
	ctx := context.Background()
	a := attempt("judy", time.Now(), engine.ResultPasswordOK)
	a.AttemptID = "judy-req-1"
	if _, err := e.Score(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := e.Forget(ctx, "acme", "user-judy"); err != nil {
		t.Fatal(err)
	}
	old, err := engine.New(engine.Options{
		Store: beforeTheMark{earlier}, Rules: allowRules{}, Keyer: testKeyer(t), StoreTimeout: time.Second,
		Signals: signals.Default(signals.Config{}), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = old.Score(ctx, a) // refused: it cannot read the mark
	if err := earlier.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := s.Profile(ctx, "acme", userKey(t, "judy")); err != nil || ok {
		t.Errorf("the erased user's profile after a retry on an earlier node: %v (%v), %d logins; want none", ok, err, p.Logins)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	k := s.keys.attempt("acme", testKeyer(t).Attempt("acme", a.AttemptID))
	if v, err := rdb.Get(ctx, k).Result(); err != nil || v != erasedMark {
		t.Errorf("the attempt's key after a retry on an earlier node: %.40q (%v), want the erased mark", v, err)
	}
}

// TestForgetFindsADecisionKeptLate: an outcome reported for an attempt
// before its Score (a client that timed out and failed over) remembers
// the attempt and indexes it under its user, for the attempt window; the
// Score, coming late in the window, keeps its decision under the id. The
// decision must not outlive the index entry Forget finds it by: a retry
// after the user's erasure is decided afresh, not answered with what the
// erased history decided. It was kept for a window from the Score, and
// for the rest of that window Forget missed it.
func TestForgetFindsADecisionKeptLate(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{AttemptWindow: 2 * time.Second, FlushInterval: time.Millisecond})
	defer s.Close(context.Background())
	e := newEngine(t, s, 5*time.Second)
	ctx := context.Background()
	a := attempt("alice", time.Now(), engine.ResultPasswordBad)
	a.AttemptID = "late-1"
	if err := e.Report(ctx, engine.Outcome{Attempt: &a, Outcome: engine.LoginFailed}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // late in the window
	first, err := e.Score(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond) // past the window of the report's index entry
	if err := e.Forget(ctx, "acme", a.UserID); err != nil {
		t.Fatal(err)
	}
	again, err := e.Score(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if again.DecisionID == first.DecisionID {
		t.Errorf("a retry after Forget got the decision %s made before it: Forget missed the decision kept for it", first.DecisionID)
	}
}
