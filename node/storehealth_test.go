package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/node"
)

// TestStorePingAgainstTimeout: a Redis slower than the Scores' bound is
// up, and its ping's duration beside the bound says why Scores are
// decided without state: riskgate_store_up 1, the ping over
// riskgate_store_timeout_seconds while Redis is paused (CLIENT PAUSE),
// under it otherwise.
func TestStorePingAgainstTimeout(t *testing.T) {
	rds := redistest.Start(t)
	reg := prometheus.NewRegistry()
	cfg := node.Config{Store: rds.URL}
	n, err := node.New(context.Background(), cfg, node.WithRegistry(reg), node.WithSecret([]byte("store-ping-test-secret-0123")), node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	gauges := func() (up, ping, timeout float64) {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			v := mf.GetMetric()[0].GetGauge().GetValue()
			switch mf.GetName() {
			case "riskgate_store_up":
				up = v
			case "riskgate_store_ping_duration_seconds":
				ping = v
			case "riskgate_store_timeout_seconds":
				timeout = v
			}
		}
		return up, ping, timeout
	}
	// Redis connects in the background.
	deadline := time.Now().Add(time.Minute)
	for {
		up, ping, timeout := gauges()
		if timeout != 0.05 {
			t.Fatalf("riskgate_store_timeout_seconds %v, want Redis's default 0.05", timeout)
		}
		if up == 1 {
			if ping <= 0 || ping >= 30 {
				t.Fatalf("riskgate_store_ping_duration_seconds %v with Redis up", ping)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis never up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := rds.Do("CLIENT", "PAUSE", "800", "ALL"); err != nil {
		t.Fatal(err)
	}
	up, ping, timeout := gauges()
	// A ping under 0.2 s did not wait for the paused server; the upper
	// bound only guards against one that never ended (under -race on a
	// loaded machine it read 1.14 s for the 0.8 s pause).
	if up != 1 || ping < 0.2 || ping <= timeout || ping >= 30 {
		t.Errorf("Redis paused for 800 ms: up %v, ping %v s, timeout %v s; want up, the ping over the timeout", up, ping, timeout)
	}
}
