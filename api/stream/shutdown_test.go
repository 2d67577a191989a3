package stream

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/engine"
)

// TestShutdownFinishesInFlight stops a runner while batches are in
// flight: what it fetched is decided, written and committed before Run
// returns, so a successor starts exactly after it and nothing is decided
// twice.
func TestShutdownFinishesInFlight(t *testing.T) {
	c := startCluster(t, 3)
	all := journeys(0, 16)
	produce(t, c, attemptMsgs(t, all)...)
	e := NewTestEngine(t, engine.Options{})
	var scored atomic.Int64
	signalled := make(chan struct{})
	opts := testOptions(c)
	opts.BufferSize = 32 // so that far from everything is fetched when the signal comes
	r1 := start(t, opts, scorerFunc{
		score: func(ctx context.Context, a engine.Attempt) (engine.Decision, error) {
			if scored.Add(1) == 80 {
				close(signalled) // SIGTERM, in the middle of a batch
			}
			return e.Score(ctx, a)
		},
		report: e.Report,
	})
	<-signalled
	r1.stop(t)
	fetched := testutil.ToFloat64(r1.m.consumed.WithLabelValues(tAttempts))
	decided := testutil.ToFloat64(r1.m.produced.WithLabelValues(tDecisions))
	if decided != fetched || int(decided) >= len(all) || decided < 80 {
		t.Fatalf("fetched %v, decided %v of %d: in-flight messages were not finished", fetched, decided, len(all))
	}
	if n := len(r1.sem); n != 0 {
		t.Fatalf("%d buffer tokens held after Run returned", n)
	}

	r2 := start(t, testOptions(c), e)
	msgs := readTopic(t, c, tDecisions, len(all))
	r2.stop(t)
	decs := decisionsByAttempt(t, msgs)
	for _, id := range ids(all) {
		if len(decs[id]) != 1 {
			t.Fatalf("attempt %s decided %d times", id, len(decs[id]))
		}
	}
	if len(msgs) != len(all) {
		t.Fatalf("%d decisions for %d attempts", len(msgs), len(all))
	}
}

// TestDispatcherAndRunnerShareTheAlertsTopic: alerts of decisions made
// over the API reach the alerts topic through the dispatcher's Kafka sink;
// those of stream decisions are written by the runner only, not twice.
func TestDispatcherAndRunnerShareTheAlertsTopic(t *testing.T) {
	c := startCluster(t, 2)
	opts := testOptions(c)
	sink, err := NewAlertSink(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := testBuilder(t)
	d, err := alert.NewDispatcher(alert.Options{
		Builder: b, Sinks: []alert.SinkConfig{{Sink: sink, SkipClaimed: true}},
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := NewTestEngine(t, engine.Options{Observers: []engine.Observer{d}})

	// Over the API: users 0-3, scored directly.
	api := journeys(0, 4)
	for _, a := range api {
		if _, err := e.Score(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	// Over the stream: users 4-7.
	streamed := journeys(4, 8)
	produce(t, c, attemptMsgs(t, streamed)...)
	r, err := New(opts, Deps{Scorer: e, Alerts: b, Claims: d, Registerer: prometheus.NewRegistry(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()

	want := direct(t, [][]engine.Attempt{append(slices.Clone(api), streamed...)})
	var n int
	for _, dec := range want {
		if dec.Alert {
			n++
		}
	}
	readTopic(t, c, tAlerts, n)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer closeCancel()
	if err := d.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	// Nothing more arrives: read to the end and count.
	msgs := readTopic(t, c, tAlerts, -1)
	got := alertsByAttempt(t, msgs)
	for id, dec := range want {
		if dec.Alert && len(got[id]) != 1 {
			t.Fatalf("attempt %s: %d alerts, want 1", id, len(got[id]))
		}
	}
	if len(msgs) != n {
		t.Fatalf("%d alerts in the topic, want %d", len(msgs), n)
	}
	for _, m := range msgs {
		if !slices.ContainsFunc(m.Headers, func(h kafka.Header) bool { return h.Key == HeaderContentType }) {
			t.Fatalf("alert without content-type: %v", m.Headers)
		}
	}
}

func TestPartitionerIsJavaMurmur2(t *testing.T) {
	// Java's murmur2 of these keys (librdkafka's test vectors, which
	// match org.apache.kafka.common.utils.Utils.murmur2); the Java client
	// puts a keyed record in toPositive(murmur2(key)) % partitions.
	vectors := []struct {
		key  string
		hash uint32
	}{
		{"kafka", 0xd067cf64}, {"giberish123456789", 0x8f552b0c}, {"1234", 0x9fc97b14}, {"234", 0xe7c009ca},
		{"34", 0x873930da}, {"4", 0x5a4b5ca1}, {"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},
		{"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377}, {"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09e},
		{"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f}, {"", 0x106e08d9},
	}
	for _, v := range vectors {
		for _, n := range []int{1, 3, 12, 100} {
			if got, want := Partition([]byte(v.key), n), int((v.hash&0x7fffffff)%uint32(n)); got != want {
				t.Errorf("Partition(%q, %d) = %d, want %d", v.key, n, got, want)
			}
		}
	}
	if got := string(Key("", "u-1")); got != "default/u-1" {
		t.Errorf("Key = %q", got)
	}
}
