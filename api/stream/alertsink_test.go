package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/syncbuf"
)

// hangProduce makes the broker hold every produce request until the test
// ends, as a broker stopped with SIGSTOP does; it returns how many are held.
func hangProduce(t *testing.T, c *cluster) *atomic.Int32 {
	t.Helper()
	var held atomic.Int32
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		held.Add(1)
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	// Before the cluster closes (cleanups run last first).
	t.Cleanup(func() { close(release) })
	return &held
}

// TestAlertSinkCloseKeepsTheDeadline: with brokers that hold every produce
// request, the dispatcher's Close returns soon after its deadline, the
// alerts it could not deliver counted and reported: the sink's Close does
// not wait for the writer's batches (three tries of 10 s each).
func TestAlertSinkCloseKeepsTheDeadline(t *testing.T) {
	c := startCluster(t, 2)
	held := hangProduce(t, c)
	sink, err := NewAlertSink(testOptions(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	d, err := alert.NewDispatcher(alert.Options{
		Builder: testBuilder(t), Sinks: []alert.SinkConfig{{Sink: sink}},
		Registerer: reg, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		d.Publish(&alert.Alert{AlertID: fmt.Sprint("a-", i), Tenant: "acme", AttemptID: fmt.Sprint("at-", i), Time: time.Now()})
	}
	waitFor(t, "a produce request held by the broker", func() bool { return held.Load() > 0 })

	const deadline = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err = d.Close(ctx)
	// Generous: the writer's own timeouts are 10 s a try.
	if took := time.Since(start); took > deadline+4*time.Second {
		t.Errorf("Close took %v with a %v deadline", took, deadline)
	}
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("sink kafka: %d alerts not delivered before the shutdown deadline", n)) {
		t.Errorf("Close: %v, want the %d alerts not delivered", err, n)
	}
	if got := droppedAlerts(t, reg, "kafka", "shutdown"); got != n {
		t.Errorf("%v alerts counted as dropped at shutdown, want %d", got, n)
	}
}

// droppedAlerts reads riskgate_alerts_dropped_total{sink, reason}.
func droppedAlerts(t *testing.T, reg *prometheus.Registry, sink, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "riskgate_alerts_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["sink"] == sink && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestShutdownWithHungBrokersIsUndrained: brokers that hold every produce
// request when the shutdown comes keep the runner from committing what it
// fetched. Run ends, and Undrained says how many
// messages were left (to be delivered again); the log says the batches
// were abandoned, not that their writes are being retried.
func TestShutdownWithHungBrokersIsUndrained(t *testing.T) {
	c := startCluster(t, 2)
	all := journeys(0, 4)
	produce(t, c, attemptMsgs(t, all)...)
	held := hangProduce(t, c)
	opts := testOptions(c)
	opts.ShutdownTimeout = 500 * time.Millisecond
	var logs syncbuf.Buffer
	r, err := New(opts, Deps{Scorer: NewTestEngine(t, engine.Options{}), Alerts: testBuilder(t),
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// Run closes its writer with kafka.Writer.Close, which waits for the
	// held batches' three tries; short tries keep that wait short (see
	// TestCloseWriterAfterAnAbandonedShutdown for closeWriter, which does
	// not wait).
	// Longer than the budget: the first write is still held when the
	// budget runs out.
	r.writer.WriteTimeout, r.writer.MaxAttempts = 3*time.Second, 1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	waitFor(t, "a write of decisions held by the broker", func() bool { return held.Load() > 0 })
	if err := r.Undrained(); err != nil {
		t.Fatalf("Undrained before the shutdown: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		// Run may report it too (runner.go's closing lines).
		if err != nil && !errors.Is(err, ErrUndrained) {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of a shutdown with a 0.5 s budget")
	}
	err = r.Undrained()
	if !errors.Is(err, ErrUndrained) {
		t.Fatalf("Undrained = %v, want ErrUndrained", err)
	}
	var n int
	if _, scanErr := fmt.Sscanf(err.Error()[len(ErrUndrained.Error()):], ": %d left uncommitted", &n); scanErr != nil || n <= 0 || n > len(all) {
		t.Errorf("Undrained = %q: want how many of the %d messages were left", err, len(all))
	}
	out := logs.String()
	if !strings.Contains(out, "batch abandoned, not committed: its messages will be delivered again") {
		t.Errorf("no abandoned batch in the log:\n%s", out)
	}
	for line := range strings.Lines(out) {
		if strings.Contains(line, "retrying") && strings.Contains(line, "context canceled") {
			t.Errorf("a write given up at shutdown is logged as retried: %s", line)
		}
	}
}

// TestCloseWriterAfterAnAbandonedShutdown: once the shutdown abandoned
// batches, closing the runner's writer does not wait for the writes the
// brokers hold (kafka.Writer.Close would: three tries of 10 s).
func TestCloseWriterAfterAnAbandonedShutdown(t *testing.T) {
	c := startCluster(t, 1)
	held := hangProduce(t, c)
	r, err := New(testOptions(c), Deps{Scorer: NewTestEngine(t, engine.Options{}), Registerer: prometheus.NewRegistry(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	written := make(chan error, 1)
	go func() {
		written <- r.writer.WriteMessages(ctx, kafka.Message{Topic: tDecisions, Key: []byte("acme/u"), Value: []byte("{}")})
	}()
	waitFor(t, "a write held by the broker", func() bool { return held.Load() > 0 })
	cancel() // the shutdown budget is spent
	if err := <-written; !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteMessages = %v, want it cut by the budget", err)
	}
	r.abandoned.Add(1) // the batch was abandoned
	start := time.Now()
	r.closeWriter()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("closing the writer took %v after an abandoned shutdown", took)
	}
}
