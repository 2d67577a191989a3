package redisstore

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestMemoryPerUser measures what Redis holds per user (MEMORY USAGE,
// which counts the key, the value and the allocator's overhead) for a
// typical profile: three devices, two countries, three cities, forty
// logins. The numbers are recorded in benchmarks/README.md.
func TestMemoryPerUser(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{KeyPrefix: "rg:"})
	defer s.Close(context.Background())
	ctx := context.Background()
	u := userKey(t, "typical")
	places := []struct{ cc, city string }{{"FR", "Paris"}, {"FR", "Lyon"}, {"DE", "Berlin"}}
	for i := range 40 {
		ip := netip.AddrFrom4([4]byte{81, 2, byte(69 + i%3), 160})
		pl := places[i%len(places)]
		l := &engine.Login{Tenant: "acme", User: u, Time: t0.Add(time.Duration(i) * 19 * time.Hour), IP: ip, Subnet: engine.SubnetOf(ip),
			Device: testKeyer(t).Device("acme", fmt.Sprint("dev", i%3)), Agent: "chrome/windows", Country: pl.cc, City: pl.city,
			HasLocation: true, Lat: 48.8566, Lon: 2.3522, AccuracyKM: 20, ASN: 3215 + uint32(i%2)}
		if err := s.Commit(ctx, &engine.Commit{Learn: l}); err != nil {
			t.Fatal(err)
		}
	}
	p, ok, err := s.Profile(ctx, "acme", u) // folds and queues the compaction
	if err != nil || !ok || p.Logins != 40 {
		t.Fatalf("profile: %v %v %d", ok, err, p.Logins)
	}
	if err := s.flush(ctx); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	base := s.keys.user("acme", u, "")
	val, err := rdb.Get(ctx, base+sufProfile).Result()
	if err != nil {
		t.Fatal(err)
	}
	if a, err := accountValue(val, 0, false, nil); err != nil || a.entries != "" {
		t.Fatalf("learned logins not folded: %v, %d bytes left", err, len(a.entries))
	}
	usage, err := rdb.MemoryUsage(ctx, base+sufProfile).Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("typical profile: value %d bytes, MEMORY USAGE %d bytes (key %d bytes)", len(val), usage, len(base+sufProfile))
	if usage > 512 {
		t.Errorf("a typical profile takes %d bytes in Redis, want at most 512", usage)
	}

	// What one failed attempt from a new address adds: the address's
	// counters and username buckets (the subnet's and ASN's are the same
	// shape, and shared by every address in them).
	ip := netip.MustParseAddr("203.0.113.77")
	var st engine.State
	ev := &engine.Event{Tenant: "acme", Time: time.Now(), IP: ip, Subnet: engine.SubnetOf(ip), Account: u, Username: u, Attempt: true, Failed: true}
	if err := s.Observe(ctx, ev, &st); err != nil {
		t.Fatal(err)
	}
	_, usage = memUsage(t, rdb, s.keys.addr("acme", ip, "*"))
	t.Logf("one address after one failed attempt: MEMORY USAGE %d bytes", usage)
	if usage > 400 {
		t.Errorf("an address seen once takes %d bytes, want at most 400", usage)
	}

	// An address under attack: 1,000 usernames in ten minutes.
	attacker := netip.MustParseAddr("203.0.113.66")
	for i := range 1000 {
		ev := &engine.Event{Tenant: "acme", Time: time.Now().Add(time.Duration(i) * 600 * time.Millisecond), IP: attacker, Subnet: engine.SubnetOf(attacker),
			Account: testKeyer(t).Username("acme", fmt.Sprint("victim", i)), Username: testKeyer(t).Username("acme", fmt.Sprint("victim", i)), Attempt: true, Failed: true}
		if err := s.Observe(ctx, ev, &st); err != nil {
			t.Fatal(err)
		}
	}
	n, total := memUsage(t, rdb, s.keys.addr("acme", attacker, "*"))
	t.Logf("an address that tried 1,000 usernames in 10 minutes: %d keys, MEMORY USAGE %d bytes; counts %v", n, total, st.Counts.IP.Usernames)
	af, _ := rdb.MemoryUsage(ctx, base+sufProfile).Result()
	t.Logf("the account after one failure (its failure rings now in it): MEMORY USAGE %d bytes", af)
}

// memUsage sums MEMORY USAGE over the keys matching pattern.
func memUsage(t *testing.T, rdb *redis.Client, pattern string) (keys int, bytes int64) {
	t.Helper()
	ctx := context.Background()
	ks, err := rdb.Keys(ctx, pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		m, err := rdb.MemoryUsage(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		bytes += m
	}
	return len(ks), bytes
}
