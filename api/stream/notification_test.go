package stream

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/engine"
)

// TestNotificationsOnTheAlertsTopic: a completed login from a new device
// publishes its notification event on the alerts topic through the
// dispatcher's Kafka sink, keyed by the user, even when the stream runner
// decided it (the runner writes its decisions' alerts itself, never their
// notifications).
func TestNotificationsOnTheAlertsTopic(t *testing.T) {
	c := startCluster(t, 2)
	opts := testOptions(c)
	sink, err := NewAlertSink(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := alert.NewBuilder(alert.BuilderOptions{Usernames: alert.UsernamePlain, Notify: alert.NotifyOptions{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := alert.NewDispatcher(alert.Options{
		Builder: b, Sinks: []alert.SinkConfig{{Sink: sink, SkipClaimed: true}},
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := NewTestEngine(t, engine.Options{Observers: []engine.Observer{d}})
	lat, lon := 48.8566, 2.3522
	home := engine.Attempt{
		Tenant: "acme", UserID: "u-alice", Username: "alice@example.com", IP: "81.2.69.160", DeviceID: "laptop-1",
		Result: engine.ResultPasswordOK, Geo: &engine.GeoHint{Country: "FR", Lat: &lat, Lon: &lon},
	}
	t0 := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Hour)
	for i := range 5 {
		a := home
		a.Time = t0.Add(time.Duration(i) * 24 * time.Hour)
		if _, err := e.Score(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	phone := home
	phone.AttemptID, phone.DeviceID, phone.Time = "phone-1", "phone-1", t0.Add(6*24*time.Hour)
	produce(t, c, attemptMsgs(t, []engine.Attempt{phone})...)
	r, err := New(opts, Deps{Scorer: e, Alerts: b, Claims: d, Registerer: prometheus.NewRegistry(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	readTopic(t, c, tDecisions, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer closeCancel()
	if err := d.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	msgs := readTopic(t, c, tAlerts, -1)
	if len(msgs) != 1 {
		t.Fatalf("%d messages on the alerts topic, want the one notification", len(msgs))
	}
	var n alert.Notification
	if err := json.Unmarshal(msgs[0].Value, &n); err != nil {
		t.Fatal(err)
	}
	if n.Schema != alert.NotificationSchemaID || n.AttemptID != "phone-1" || !slices.Equal(n.Kinds, []string{"new_device"}) ||
		n.CompletedBy != alert.CompletedByPassword || n.User.ID != "u-alice" {
		t.Fatalf("notification %s", msgs[0].Value)
	}
	if string(msgs[0].Key) != "acme/u-alice" {
		t.Fatalf("key %q", msgs[0].Key)
	}
}
