package node_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/node"
)

// TestMemoryEvictionsAreCounted: a memory store past its bounds evicts
// the least recently used profiles and pending decisions, and says so in
// riskgate_memory_evictions_total; entries stay within the capacity it
// reports. Nothing is counted while the store has room.
func TestMemoryEvictionsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := node.Config{Memory: node.MemoryConfig{MaxUsers: 64, MaxPending: 64}}
	n, err := node.New(context.Background(), cfg, node.WithRegistry(reg), node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	ctx := context.Background()
	score := func(user string, r engine.Result) {
		t.Helper()
		if _, err := n.Service().Score(ctx, engine.Attempt{IP: "81.2.69.160", UserID: user, Result: r}); err != nil {
			t.Fatal(err)
		}
	}
	gauge := func(name, table string) float64 {
		t.Helper()
		for _, m := range family(t, reg, name) {
			if labelOf(m, "table") == table {
				return m.GetGauge().GetValue()
			}
		}
		t.Fatalf("no %s{table=%q}", name, table)
		return 0
	}
	for _, table := range []string{"profiles", "windows", "accounts", "pending", "attempts"} {
		if got := metricValue(t, reg, "riskgate_memory_evictions_total", "table", table); got != 0 {
			t.Errorf("%s: %v evicted before anything was stored", table, got)
		}
		if gauge("riskgate_memory_capacity", table) <= 0 {
			t.Errorf("%s: no capacity", table)
		}
	}
	score("victim", engine.ResultPasswordOK)
	if _, err := n.Service().Profile(ctx, "", "victim"); err != nil {
		t.Fatalf("victim not learned: %v", err)
	}
	for i := range 300 {
		score(fmt.Sprint("flood", i), engine.ResultPasswordOK) // learned: a profile each
		score(fmt.Sprint("held", i), engine.ResultUnknown)     // pending: awaiting its outcome
	}
	if _, err := n.Service().Profile(ctx, "", "victim"); !errors.Is(err, service.ErrNoProfile) {
		t.Fatalf("victim's profile after the flood: %v, want evicted", err)
	}
	for _, table := range []string{"profiles", "pending"} {
		evicted := metricValue(t, reg, "riskgate_memory_evictions_total", "table", table)
		entries, capacity := gauge("riskgate_memory_entries", table), gauge("riskgate_memory_capacity", table)
		if evicted < 300-capacity || entries > capacity || entries == 0 {
			t.Errorf("%s: %v evicted, %v entries of %v", table, evicted, entries, capacity)
		}
	}
}
