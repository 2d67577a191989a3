package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
)

// Topic names of the tests.
const (
	tAttempts  = "login-attempts"
	tOutcomes  = "login-outcomes"
	tDecisions = "risk-decisions"
	tAlerts    = "risk-alerts"
	tDead      = "risk-dead-letters"
)

// cluster is an in-process Kafka (kfake) on 127.0.0.1.
type cluster struct {
	*kfake.Cluster
	addrs []string
}

// startCluster starts a broker with the tests' topics: partitions for the
// consumed and produced topics alike. Group session timeouts down to
// 100ms are allowed, so that rebalances take a fraction of a second.
func startCluster(t testing.TB, partitions int32, extra ...kfake.Opt) *cluster {
	t.Helper()
	opts := append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, tAttempts, tOutcomes, tDecisions, tAlerts, tDead),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}, extra...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &cluster{Cluster: c, addrs: c.ListenAddrs()}
}

// testOptions are runner options for the tests' cluster.
func testOptions(c *cluster) Options {
	return Options{
		Brokers: c.addrs, AttemptsTopic: tAttempts, OutcomesTopic: tOutcomes, DecisionsTopic: tDecisions,
		AlertsTopic: tAlerts, DeadLetterTopic: tDead, Group: "riskgate-test", Workers: 3, BatchSize: 32,
		SessionTimeout: time.Second, ShutdownTimeout: 10 * time.Second,
	}
}

// testBuilder builds alerts with plain usernames (the tests compare them).
func testBuilder(t testing.TB) *alert.Builder {
	b, err := alert.NewBuilder(alert.BuilderOptions{Usernames: alert.UsernamePlain})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// running is a Runner started in the background.
type running struct {
	*Runner
	cancel context.CancelFunc
	done   chan error
	reg    *prometheus.Registry
}

// start creates a runner over scorer and runs it until the test ends or
// stop is called.
func start(t testing.TB, opts Options, scorer Scorer) *running {
	t.Helper()
	return startWith(t, opts, scorer, nil)
}

// startWith is start, with setup called on the runner before it runs.
func startWith(t testing.TB, opts Options, scorer Scorer, setup func(*Runner)) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	deps := Deps{Scorer: scorer, Alerts: testBuilder(t), Registerer: reg, Logger: testLogger(t)}
	svc, _ := scorer.(*service.Service)
	if svc != nil {
		deps.Scorer = nil // as the node runs it: with its service
	}
	r, err := New(opts, deps)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{Runner: r, cancel: cancel, done: make(chan error, 1), reg: reg}
	go func() { run.done <- r.Run(ctx, svc) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

// stop shuts the runner down and waits for Run to return.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.stopWith(t, nil)
}

// crashed stops a runner whose shutdown was given no time (a crash): Run
// reports the messages it left uncommitted, ErrUndrained, or nothing if
// there were none.
func (r *running) crashed(t testing.TB) {
	t.Helper()
	r.stopWith(t, ErrUndrained)
}

// stopWith is stop, Run's error allowed to be expected.
func (r *running) stopWith(t testing.TB, expected error) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil && (expected == nil || !errors.Is(err, expected)) {
			t.Errorf("Run: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of shutdown")
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("RISKGATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// produce writes messages the way a Java producer would: keyed, murmur2.
func produce(t testing.TB, c *cluster, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(c.addrs...), Balancer: Partitioner, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 1000}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// attemptMsgs encodes attempts as attempt-topic messages keyed tenant/user.
func attemptMsgs(t testing.TB, as []engine.Attempt) []kafka.Message {
	out := make([]kafka.Message, len(as))
	for i, a := range as {
		v, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		user := a.UserID
		if user == "" {
			user = a.Username
		}
		out[i] = kafka.Message{Topic: tAttempts, Key: Key(a.Tenant, user), Value: v}
	}
	return out
}

// readTopic reads every partition of topic from the start until want
// messages are read (want < 0: up to the end of every partition as it is
// now), failing after a generous bound.
func readTopic(t testing.TB, c *cluster, topic string, want int) []kafka.Message {
	t.Helper()
	conn, err := kafka.Dial("tcp", c.addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// enough is cancelled once want messages are in.
	enough, stop := context.WithCancel(ctx)
	defer stop()
	var (
		mu  sync.Mutex
		out []kafka.Message
		wg  sync.WaitGroup
	)
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var end int64 = -1
			if want < 0 {
				lc, err := kafka.DialLeader(ctx, "tcp", c.addrs[0], topic, p.ID)
				if err != nil {
					t.Error(err)
					return
				}
				end, err = lc.ReadLastOffset()
				lc.Close()
				if err != nil {
					t.Error(err)
					return
				}
				if end == 0 {
					return
				}
			}
			// MaxWait is also how long a fetch's answer may take (see
			// consume): at 50 ms, a broker slowed by a loaded machine
			// answered too late at every try, and a partition read
			// nothing for a minute. The broker answers as soon as it has
			// a message, so waiting longer costs nothing.
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.addrs, Topic: topic, Partition: p.ID, MaxWait: time.Second})
			defer r.Close()
			for {
				m, err := r.ReadMessage(enough)
				if err != nil {
					if end >= 0 && ctx.Err() != nil {
						t.Errorf("topic %s partition %d: stuck at offset %d of %d: %v", topic, p.ID, r.Offset(), end, err)
					}
					return
				}
				mu.Lock()
				out = append(out, m)
				if want >= 0 && len(out) >= want {
					stop()
				}
				mu.Unlock()
				if end >= 0 && m.Offset+1 >= end {
					return
				}
			}
		}()
	}
	wg.Wait()
	if want >= 0 && len(out) < want {
		t.Fatalf("topic %s: read %d messages, want %d", topic, len(out), want)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

// decisionsByAttempt decodes decision messages by attempt id, failing on
// a message that is not a decision.
func decisionsByAttempt(t testing.TB, msgs []kafka.Message) map[string][]engine.Decision {
	out := map[string][]engine.Decision{}
	for _, m := range msgs {
		var d engine.Decision
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatalf("decision %s: %v", m.Value, err)
		}
		out[d.AttemptID] = append(out[d.AttemptID], d)
	}
	return out
}

func alertsByAttempt(t testing.TB, msgs []kafka.Message) map[string][]alert.Alert {
	out := map[string][]alert.Alert{}
	for _, m := range msgs {
		var a alert.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatalf("alert %s: %v", m.Value, err)
		}
		out[a.AttemptID] = append(out[a.AttemptID], a)
	}
	return out
}

// userJourney is one user's logins, in their own tenant so that nothing of
// their state depends on other users (the stream interleaves partitions):
// a completed login in London, one from Tokyo an hour later (impossible
// travel: step-up, alert), then failures from a third address (brute
// force: step-up, then alerts from the 10th failure).
func userJourney(u int) []engine.Attempt {
	t0 := time.Date(2026, 5, 9, 8, 0, 0, 0, time.UTC)
	tenant := fmt.Sprintf("t%03d", u)
	user := fmt.Sprintf("u-%d", u)
	lat, lon := 51.5, -0.12
	tlat, tlon := 35.68, 139.65
	base := engine.Attempt{Tenant: tenant, UserID: user, Username: fmt.Sprintf("User%d@Example.com", u), UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0"}
	var out []engine.Attempt
	add := func(dt time.Duration, ip, dev string, res engine.Result, geo *engine.GeoHint) {
		a := base
		a.AttemptID = fmt.Sprintf("%s-%02d", tenant, len(out))
		a.Time, a.IP, a.DeviceID, a.Result, a.Geo = t0.Add(dt), ip, dev, res, geo
		a.Attributes = map[string]string{"seq": strconv.Itoa(len(out))}
		out = append(out, a)
	}
	ipv4 := func(last int) string { return fmt.Sprintf("81.%d.%d.%d", u/200+1, u%200, last) }
	add(0, ipv4(1), "d1", engine.ResultPasswordOK, &engine.GeoHint{Country: "GB", Lat: &lat, Lon: &lon})
	add(time.Hour, fmt.Sprintf("126.%d.%d.9", u/200+1, u%200), "d2", engine.ResultPasswordOK, &engine.GeoHint{Country: "JP", Lat: &tlat, Lon: &tlon})
	for i := range 12 {
		add(2*time.Hour+time.Duration(i)*time.Minute, ipv4(50), "", engine.ResultPasswordBad, nil)
	}
	return out
}

// direct scores each journey on a fresh engine, in order, as the HTTP API
// would: the decisions the stream must reproduce.
func direct(t testing.TB, journeys [][]engine.Attempt) map[string]engine.Decision {
	e := NewTestEngine(t, engine.Options{})
	out := map[string]engine.Decision{}
	for _, j := range journeys {
		for _, a := range j {
			d, err := e.Score(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			out[a.AttemptID] = d
		}
	}
	return out
}

// sameDecision compares decisions except for their ids, through JSON as
// the topic carries them.
func sameDecision(t testing.TB, got, want engine.Decision) error {
	got.DecisionID, want.DecisionID = "", ""
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		return fmt.Errorf("decision differs:\n got %s\nwant %s", g, w)
	}
	return nil
}

// listenPort is the port of a one-broker cluster, for a test that
// restarts the broker where it was. The first start takes a port the
// kernel gives (kfake.Ports(0)), rather than one found free and closed
// beforehand, which another process could take in between.
func listenPort(t testing.TB, c *kfake.Cluster) int {
	t.Helper()
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		t.Fatalf("%d brokers, want 1", len(addrs))
	}
	ap, err := netip.ParseAddrPort(addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	return int(ap.Port())
}

// waitFor polls cond until it holds, failing after a generous bound: a
// wait for something to happen, not a timing assertion.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
