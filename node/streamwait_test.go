package node_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	kstream "github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/node"
)

// TestStreamWaitsForSlowStore: with Redis stalled past --store-timeout
// (50 ms by default), a login scored through the API is decided at once
// without state, while an attempt consumed from Kafka waits for Redis,
// up to --kafka-store-timeout, and is decided with its user's baseline.
func TestStreamWaitsForSlowStore(t *testing.T) {
	if testing.Short() {
		t.Skip("a broker and Redis")
	}
	rds := redistest.Start(t)
	brokers := streamBroker(t)

	reg := prometheus.NewRegistry()
	cfg := node.Config{
		HTTP: node.HTTPConfig{Addr: "127.0.0.1:0"}, Store: rds.URL, // --store-timeout: Redis's default
		Kafka: kstream.Options{
			Brokers: brokers, AttemptsTopic: sAttempts, DecisionsTopic: sDecisions, Group: "g",
			SessionTimeout: time.Second, ShutdownTimeout: 10 * time.Second,
			StoreTimeout: 30 * time.Second,
		},
	}
	n, err := node.New(context.Background(), cfg, node.WithSecret(streamSecret), node.WithLogger(quiet()), node.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, wait, err := n.Start(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); _ = wait() }()

	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	login := func(id string, at time.Time) engine.Attempt {
		return engine.Attempt{AttemptID: id, Time: at, UserID: "u-slow", Username: "slow", IP: "81.2.69.160",
			DeviceID: "laptop", Result: engine.ResultPasswordOK}
	}
	produce := func(a engine.Attempt) {
		v, _ := json.Marshal(a)
		produceStream(t, brokers, []kafka.Message{{Topic: sAttempts, Key: kstream.Key(a.Tenant, a.UserID), Value: v}})
	}

	// A first login, with Redis answering: the user's baseline.
	produce(login("first", t0))
	waitDecisions(t, brokers, 1)

	// Redis stalls. The second login is fetched; while its Score waits,
	// one through the API gives up at --store-timeout.
	rds.Pause()
	tp := time.Now()
	paused := true
	defer func() {
		if paused {
			rds.Resume()
		}
	}()
	produce(login("second", t0.Add(time.Minute)))
	waitMetric(t, reg, "riskgate_kafka_messages_consumed_total", 2)
	t.Logf("fetched %v after Redis stopped", time.Since(tp))
	// Another user's login: its learning, queued while Redis is stopped,
	// may reach Redis before the consumed attempt's read, and must not
	// change the baseline this test checks.
	api := login("api", t0.Add(2*time.Minute))
	api.UserID, api.Username = "u-api", "api"
	d, err := n.Service().Score(context.Background(), api)
	if err != nil {
		t.Fatal(err)
	}
	if d.Signals.State.Available {
		t.Error("the API's Score had state while Redis was stopped")
	}
	// The consumed attempt's observe has waited well past the API's
	// bound when Redis comes back.
	time.Sleep(300 * time.Millisecond)
	t.Logf("Redis resumed after %v", time.Since(tp))
	rds.Resume()
	paused = false

	got := decisionsOf(t, waitDecisions(t, brokers, 2))["second"]
	if len(got) != 1 {
		t.Fatalf("%d decisions of the consumed attempt", len(got))
	}
	if s := got[0].Signals; !s.State.Available || s.User.Logins != 1 || s.Device.New {
		t.Errorf("the consumed attempt was not decided on its baseline: state %v, logins %d, new device %v",
			s.State.Available, s.User.Logins, s.Device.New)
	}
	// The wait was the stream's own: one observe took over 250 ms and
	// succeeded, and only the API's failed.
	if slow := slowObserves(t, reg, 0.25); slow < 1 {
		t.Errorf("no observe took over 250 ms: the consumed attempt's Score did not wait on Redis")
	}
	if errs := metricValue(t, reg, "riskgate_store_errors_total", "op", "observe"); errs != 1 {
		t.Errorf("%v failed observes, want the API's one", errs)
	}
}

// waitMetric waits until the counter name, summed over its labels, is at
// least want.
func waitMetric(t *testing.T, reg *prometheus.Registry, name string, want float64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); metricValue(t, reg, name, "", "") < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s stayed below %v", name, want)
		}
	}
}

// metricValue sums the counter name over the series whose label has
// value (every series when label is empty).
func metricValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	var sum float64
	for _, m := range family(t, reg, name) {
		if label == "" || labelOf(m, label) == value {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// slowObserves counts the observes that took longer than over seconds.
func slowObserves(t *testing.T, reg *prometheus.Registry, over float64) uint64 {
	t.Helper()
	for _, m := range family(t, reg, "riskgate_store_duration_seconds") {
		if labelOf(m, "op") != "observe" {
			continue
		}
		h := m.GetHistogram()
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == over {
				return h.GetSampleCount() - b.GetCumulativeCount()
			}
		}
		t.Fatalf("no bucket at %v s", over)
	}
	return 0
}

func family(t *testing.T, reg *prometheus.Registry, name string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
