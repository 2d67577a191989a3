package redisstore

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/storetest"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestCluster runs the conformance suite against a real three-node Redis
// Cluster: a script touching a key outside its slot, or a pipeline
// mis-routed, fails there. It also checks the test's slot function against
// the cluster's own (CLUSTER KEYSLOT) for every key one user's Scores
// write, and that those keys really spread over several nodes.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := redistest.StartCluster(t, 3)
	if !strings.Contains(c.URL, "addr=") {
		t.Fatalf("cluster URL %s", c.URL)
	}
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) engine.Store {
			s := newTestStore(t, c.URL, Options{})
			if _, ok := s.Client().(*redis.ClusterClient); !ok {
				t.Fatalf("client is %T, want a cluster client", s.Client())
			}
			return s
		})
	})
	t.Run("Slots", func(t *testing.T) {
		s := scoreOnce(t, c.URL, "rgslots:")
		ctx := context.Background()
		if _, _, err := s.Profile(ctx, "acme", userKey(t, "alice")); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
		defer rdb.Close()
		var (
			mu    sync.Mutex // ForEachMaster runs on the nodes concurrently
			keys  []string
			nodes = map[string]bool{}
		)
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			ks, err := node.Keys(ctx, "rgslots:*").Result()
			mu.Lock()
			defer mu.Unlock()
			if len(ks) > 0 {
				nodes[node.Options().Addr] = true
			}
			keys = append(keys, ks...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) < 15 {
			t.Fatalf("only %d keys: %v", len(keys), keys)
		}
		for _, k := range keys {
			want, err := rdb.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got := slot(k); int64(got) != want {
				t.Errorf("%s: slot %d, cluster says %d", k, got, want)
			}
		}
		if len(nodes) < 2 {
			t.Errorf("one user's keys all on %d node(s): the layout does not spread", len(nodes))
		}
	})
	t.Run("OneRoundTripPerScore", func(t *testing.T) {
		s := newTestStore(t, c.URL, Options{FlushInterval: time.Hour})
		defer s.Close(context.Background())
		var rt roundTrips
		s.Client().AddHook(&rt)
		e := newEngine(t, s, time.Second)
		ctx := context.Background()
		for i := range 40 {
			a := attempt("carol", t0.Add(time.Duration(i)*time.Minute), engine.ResultPasswordOK)
			before := rt.n.Load()
			d, err := e.Score(ctx, a)
			if err != nil || !d.Signals.State.Available {
				t.Fatalf("score %d: %v, available %v", i, err, d.Signals.State.Available)
			}
			// The cluster client's hook sees the whole pipeline once; it
			// sends each node its part in parallel.
			if got := rt.n.Load() - before; i > 2 && got != 1 {
				t.Errorf("score %d: %d pipelines, want 1", i, got)
			}
		}
		p, ok, err := s.Profile(ctx, "acme", userKey(t, "carol"))
		if err != nil || !ok || p.Logins != 40 {
			t.Errorf("profile: ok %v err %v logins %d, want 40", ok, err, p.Logins)
		}
	})
}
