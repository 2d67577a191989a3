package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/riskgate/riskgate/api/alert"
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
