package stream

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/redisstore"
	"github.com/riskgate/riskgate/internal/redistest"
)

// journeys returns the attempts of users from..to-1, each in their own
// tenant.
func journeys(from, to int) []engine.Attempt {
	var out []engine.Attempt
	for u := from; u < to; u++ {
		out = append(out, userJourney(u)...)
	}
	return out
}

func ids(as []engine.Attempt) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.AttemptID
	}
	return out
}

// TestKilledMidBatchLosesNothing stops a runner in the middle of a batch
// with no time to finish it, as a crash would, and starts another on a
// fresh engine (a restarted process): every attempt is decided.
func TestKilledMidBatchLosesNothing(t *testing.T) {
	c := startCluster(t, 3)
	all := journeys(0, 16)
	produce(t, c, attemptMsgs(t, all)...)

	opts := testOptions(c)
	opts.ShutdownTimeout = time.Nanosecond // no drain: a crash
	e1 := NewTestEngine(t, engine.Options{})
	var scored atomic.Int64
	killed := make(chan struct{})
	r1 := start(t, opts, scorerFunc{
		score: func(ctx context.Context, a engine.Attempt) (engine.Decision, error) {
			if scored.Add(1) == 100 {
				close(killed)
				<-ctx.Done() // the process dies with this batch half done
			}
			return e1.Score(ctx, a)
		},
		report: e1.Report,
	})
	<-killed
	r1.crashed(t)
	committedBefore := testutil.ToFloat64(r1.m.produced.WithLabelValues(tDecisions))
	if committedBefore >= float64(len(all)) {
		t.Fatalf("the first runner decided everything (%v) before it was killed", committedBefore)
	}

	opts.ShutdownTimeout = 10 * time.Second
	r2 := start(t, opts, NewTestEngine(t, engine.Options{}))
	// Some decisions may be written twice (written, then not committed
	// in time): wait for every attempt, not for a count.
	var missing []string
	waitFor(t, "every attempt to be decided", func() bool {
		decs := decisionsByAttempt(t, readTopic(t, c, tDecisions, -1))
		missing = missing[:0]
		for _, id := range ids(all) {
			if len(decs[id]) == 0 {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0
	})
	r2.stop(t)
	if testutil.ToFloat64(r2.m.consumed.WithLabelValues(tAttempts)) == 0 {
		t.Fatal("the second runner consumed nothing")
	}
}

// TestRebalanceLosesNothing runs two runners in one group while attempts
// keep arriving: the second joins, then the first leaves. Each attempt is
// decided exactly once, across two engines over one store (memory:
// sharing nothing; Redis: sharing state, where each account's failure
// count must go up by exactly one per attempt).
func TestRebalanceLosesNothing(t *testing.T) {
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			var opts engine.Options
			if store == "redis" {
				srv := redistest.Start(t)
				s, err := redisstore.New(context.Background(), redisstore.Options{URL: srv.URL})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close(context.Background()) })
				opts.Store = s
			}
			testRebalance(t, func() *engine.Engine { return NewTestEngine(t, opts) }, store == "redis")
		})
	}
}

func testRebalance(t *testing.T, newEngine func() *engine.Engine, shared bool) {
	c := startCluster(t, 6)
	const users = 20
	attempt := func(u, i int) engine.Attempt {
		return engine.Attempt{
			Tenant: "acme", AttemptID: fmt.Sprintf("u%d-%d", u, i), UserID: fmt.Sprintf("u-%d", u),
			IP: fmt.Sprintf("81.2.%d.%d", u, i+1), Result: engine.ResultPasswordBad,
			Time:       time.Date(2026, 5, 9, 9, 0, i, 0, time.UTC),
			Attributes: map[string]string{"seq": strconv.Itoa(i)},
		}
	}
	wave := func(from, to int) []engine.Attempt {
		var out []engine.Attempt
		for i := from; i < to; i++ {
			for u := range users {
				out = append(out, attempt(u, i))
			}
		}
		return out
	}
	var all []engine.Attempt
	send := func(as []engine.Attempt) {
		all = append(all, as...)
		produce(t, c, attemptMsgs(t, as)...)
	}
	opts := testOptions(c)
	opts.BatchSize = 8
	decided := func(r *running) float64 { return testutil.ToFloat64(r.m.produced.WithLabelValues(tDecisions)) }

	send(wave(0, 4))
	a := start(t, opts, newEngine())
	waitFor(t, "the first runner to decide", func() bool { return decided(a) > 0 })
	b := start(t, opts, newEngine())
	waitFor(t, "the second runner to join", func() bool { return testutil.ToFloat64(b.m.rebalances) > 0 })
	send(wave(4, 8))
	waitFor(t, "the second runner to decide", func() bool { return decided(b) > 0 })
	send(wave(8, 10))
	waitFor(t, "the first two waves", func() bool { return decided(a)+decided(b) >= float64(len(all)) })
	a.stop(t) // leaves the group: b takes every partition
	send(wave(10, 14))
	readUntilAll(t, c, tDecisions, ids(all), decisionAttempt)
	b.stop(t)

	// Each attempt decided once, in per-user order: the handovers are
	// clean. Only a runner the group took for gone on a loaded machine
	// (see TestPerUserOrder) may repeat one, the first decision again.
	first, repeated := delivered(t, readTopic(t, c, tDecisions, -1))
	mayRepeat(t, repeated, a, b)
	if len(first) != len(all) {
		t.Fatalf("%d attempts decided of %d", len(first), len(all))
	}
	if decided(a) == 0 || decided(b) == 0 {
		t.Fatalf("runners decided %v and %v: no rebalance happened", decided(a), decided(b))
	}
	if !shared {
		return
	}
	for _, d := range first {
		seq, _ := strconv.Atoi(d.Signals.Attempt.Attributes["seq"])
		if got := d.Signals.Account.Failures1h; got != seq+1 {
			t.Fatalf("%s: account.failures_1h = %d, want %d: an attempt was counted twice or not at all (state available: %v)", d.AttemptID, got, seq+1, d.Signals.State.Available)
		}
	}
}

// TestBrokerRestartLosesNoAlert takes the broker away while the runner is
// working and brings it back (same port, same data): every alert the
// attempts call for is in the alerts topic afterwards.
func TestBrokerRestartLosesNoAlert(t *testing.T) {
	port := 0 // the kernel's at the first start, then the same
	dir := t.TempDir()
	newCluster := func() *cluster {
		c, err := kfake.NewCluster(kfake.Ports(port), kfake.DataDir(dir),
			kfake.SeedTopics(4, tAttempts, tOutcomes, tDecisions, tAlerts, tDead),
			kfake.GroupMinSessionTimeout(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		port = listenPort(t, c)
		return &cluster{Cluster: c, addrs: c.ListenAddrs()}
	}
	c1 := newCluster()
	first, second := journeys(0, 16), journeys(16, 24)
	want := direct(t, [][]engine.Attempt{append(slices.Clone(first), second...)})
	produce(t, c1, attemptMsgs(t, first)...)

	r := start(t, testOptions(c1), NewTestEngine(t, engine.Options{}))
	waitFor(t, "the runner to start deciding", func() bool {
		return testutil.ToFloat64(r.m.consumed.WithLabelValues(tAttempts)) >= 30
	})
	c1.Close()
	waitFor(t, "the runner to notice", func() bool { return testutil.ToFloat64(r.m.connected) == 0 })
	c2 := newCluster()
	t.Cleanup(c2.Close)
	produce(t, c2, attemptMsgs(t, second)...)

	var alerting []string
	for id, d := range want {
		if d.Alert {
			alerting = append(alerting, id)
		}
	}
	// Redelivery may repeat alerts (with the same alert_id); none may be
	// missing.
	got := map[string]bool{}
	waitFor(t, "every alert", func() bool {
		for id := range alertsByAttempt(t, readTopic(t, c2, tAlerts, -1)) {
			got[id] = true
		}
		return len(got) >= len(alerting)
	})
	r.stop(t)
	for _, id := range alerting {
		if !got[id] {
			t.Fatalf("alert for %s lost", id)
		}
	}
	if len(got) != len(alerting) {
		t.Fatalf("%d attempts alerted, want %d", len(got), len(alerting))
	}
}
