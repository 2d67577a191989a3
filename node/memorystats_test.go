package node_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	// The bound is per shard (64 of them, an entry each), and which shard
	// a user lands in depends on the node's random key: 300 users leave
	// the victim's shard untouched about once in a hundred runs. So the
	// flood goes on until the victim is gone, 300 users at least.
	flood := 0
	for ; flood < 300 || flood < 5000 && hasProfile(t, n, "victim"); flood++ {
		score(fmt.Sprint("flood", flood), engine.ResultPasswordOK) // learned: a profile each
		score(fmt.Sprint("held", flood), engine.ResultUnknown)     // pending: awaiting its outcome
	}
	if hasProfile(t, n, "victim") {
		t.Fatalf("victim's profile is still held after %d users, want evicted", flood)
	}
	for _, table := range []string{"profiles", "pending"} {
		evicted := metricValue(t, reg, "riskgate_memory_evictions_total", "table", table)
		entries, capacity := gauge("riskgate_memory_entries", table), gauge("riskgate_memory_capacity", table)
		if evicted < float64(flood)-capacity || entries > capacity || entries == 0 {
			t.Errorf("%s: %v evicted, %v entries of %v", table, evicted, entries, capacity)
		}
	}
}

// hasProfile reports whether n holds a profile of user.
func hasProfile(t *testing.T, n *node.Node, user string) bool {
	t.Helper()
	_, err := n.Service().Profile(context.Background(), "", user)
	if err != nil && !errors.Is(err, service.ErrNoProfile) {
		t.Fatal(err)
	}
	return err == nil
}

// TestRetryCacheEvictionsAreCounted: the decisions a node remembers for
// retries are bounded by count and by bytes, and past either bound the
// oldest go, a retry of each then scored again. Those evictions are
// counted in riskgate_retry_cache_evictions_total and what the cache
// holds is in its gauges, within their bounds; with the cache off (the
// memory store's default) there are no such series. Flooded with fresh
// attempt ids, the cache evicted and no metric said so.
func TestRetryCacheEvictionsAreCounted(t *testing.T) {
	for _, tc := range []struct {
		name               string
		maxRetries, nBytes int
		calls              int
	}{
		{"by count", 64, 0, 500},
		{"by bytes", 100_000, 64 << 10, 500},
		{"off", 0, 0, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			cfg := node.Config{Memory: node.MemoryConfig{MaxRetries: tc.maxRetries, MaxRetryBytes: tc.nBytes}}
			n, err := node.New(context.Background(), cfg, node.WithRegistry(reg), node.WithLogger(quiet()))
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close(context.Background())
			for i := range tc.calls {
				a := engine.Attempt{AttemptID: fmt.Sprint("flood-", i), UserID: fmt.Sprint("u-", i), IP: "81.2.69.160", Result: engine.ResultPasswordBad}
				if _, err := n.Service().Score(context.Background(), a); err != nil {
					t.Fatal(err)
				}
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, mf := range mfs {
				if strings.HasPrefix(mf.GetName(), "riskgate_retry_cache_") {
					m := mf.GetMetric()[0]
					got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
				}
			}
			if tc.maxRetries == 0 {
				if len(got) != 0 {
					t.Fatalf("no retry cache, yet %v", got)
				}
				return
			}
			entries, capacity := got["riskgate_retry_cache_entries"], got["riskgate_retry_cache_capacity"]
			held, maxBytes := got["riskgate_retry_cache_bytes"], got["riskgate_retry_cache_max_bytes"]
			evicted := got["riskgate_retry_cache_evictions_total"]
			if entries == 0 || entries > capacity || held == 0 || held > maxBytes {
				t.Errorf("%v entries of %v, %v bytes of %v", entries, capacity, held, maxBytes)
			}
			if evicted == 0 || evicted+entries > float64(tc.calls) {
				t.Errorf("%d decisions remembered, %v held: %v counted evicted", tc.calls, entries, evicted)
			}
		})
	}
}
