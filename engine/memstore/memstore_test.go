package memstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) engine.Store { return New(Options{}) })
}

func TestConformanceOneShard(t *testing.T) {
	storetest.Run(t, func(t *testing.T) engine.Store { return New(Options{Shards: 1}) })
}

func TestBoundsEvictLeastRecentlyUsed(t *testing.T) {
	s := New(Options{Shards: 1, MaxUsers: 3, MaxWindowKeys: 4})
	defer s.Close(context.Background())
	ctx := context.Background()
	learn := func(u string) {
		t.Helper()
		if err := s.Commit(ctx, &engine.Commit{Learn: &engine.Login{Tenant: "t", User: key(u), Time: base}}); err != nil {
			t.Fatal(err)
		}
	}
	learn("a")
	learn("b")
	learn("c")
	if _, ok, _ := s.Profile(ctx, "t", key("a")); !ok {
		t.Fatal("a missing before the bound is reached")
	}
	learn("a") // a is now the most recently used; b the least
	learn("d")
	if _, ok, _ := s.Profile(ctx, "t", key("b")); ok {
		t.Error("least recently used profile b was not evicted")
	}
	for _, u := range []string{"a", "c", "d"} {
		if _, ok, _ := s.Profile(ctx, "t", key(u)); !ok {
			t.Errorf("profile %s evicted", u)
		}
	}
	// Window keys: each observe of a new address without user or ASN
	// touches the address, its subnet and the tenant.
	for i := range 10 {
		var st engine.State
		ip := netip.AddrFrom4([4]byte{198, 51, byte(i), 1})
		if err := s.Observe(ctx, &engine.Event{Tenant: "t", Time: base, IP: ip, Subnet: engine.SubnetOf(ip), Failed: true}, &st); err != nil {
			t.Fatal(err)
		}
	}
	if _, w, _ := s.Len(); w > 4 {
		t.Errorf("%d window keys held, bound is 4", w)
	}
}

func TestTTLExpiry(t *testing.T) {
	now := base
	s := New(Options{ProfileTTL: 24 * time.Hour, PendingTTL: time.Minute, Now: func() time.Time { return now }})
	defer s.Close(context.Background())
	ctx := context.Background()
	if err := s.Commit(ctx, &engine.Commit{
		Learn:   &engine.Login{Tenant: "t", User: key("u"), Time: base},
		Pending: &engine.Pending{DecisionID: "d1", Event: engine.Event{Tenant: "t"}},
	}); err != nil {
		t.Fatal(err)
	}
	now = base.Add(2 * time.Minute)
	if _, ok, _ := s.TakePending(ctx, "t", "d1"); ok {
		t.Error("pending decision outlived its TTL")
	}
	if _, ok, _ := s.Profile(ctx, "t", key("u")); !ok {
		t.Error("profile expired early")
	}
	now = base.Add(25 * time.Hour)
	if _, ok, _ := s.Profile(ctx, "t", key("u")); ok {
		t.Error("profile outlived its TTL")
	}
	s.Expire()
	if p, _, _ := s.Len(); p != 0 {
		t.Errorf("Expire left %d profiles", p)
	}
}

// TestExpireAfterReads: reading a profile (every attempt of the user,
// failed ones included) does not touch it, so it must not reorder the LRU
// either: Expire trims from the oldest end and stops at the first live
// entry, and a read-but-expired profile behind a live one would linger in
// memory past its time to live.
func TestExpireAfterReads(t *testing.T) {
	now := base
	s := New(Options{Shards: 1, ProfileTTL: 24 * time.Hour, Now: func() time.Time { return now }})
	defer s.Close(context.Background())
	ctx := context.Background()
	learn := func(u string) {
		t.Helper()
		if err := s.Commit(ctx, &engine.Commit{Learn: &engine.Login{Tenant: "t", User: key(u), Time: now}}); err != nil {
			t.Fatal(err)
		}
	}
	learn("old")
	now = base.Add(time.Hour)
	learn("young")
	now = base.Add(2 * time.Hour)
	ip := netip.MustParseAddr("198.51.100.7")
	var st engine.State
	if err := s.Observe(ctx, &engine.Event{Tenant: "t", Time: now, User: key("old"), Account: key("old"), IP: ip, Subnet: engine.SubnetOf(ip), Failed: true}, &st); err != nil || !st.HasProfile {
		t.Fatalf("observe: %v %v", st.HasProfile, err)
	}
	now = base.Add(24*time.Hour + 30*time.Minute) // "old" expired, "young" alive
	s.Expire()
	if p, _, _ := s.Len(); p != 1 {
		t.Errorf("Expire kept %d profiles, want 1 (the expired one lingers)", p)
	}
	if _, ok, _ := s.Profile(ctx, "t", key("young")); !ok {
		t.Error("live profile expired")
	}
}

func key(s string) engine.Key {
	var k engine.Key
	copy(k[:], s)
	k[15] = 1
	return k
}

var base = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestCounterRing(t *testing.T) {
	var c counter
	t0 := base.Unix()
	var out [3]uint32
	c.add(&shortSpec, t0, 1)
	c.add(&shortSpec, t0+30, 2)      // same minute
	c.add(&shortSpec, t0+9*60, 1)    // 9 minutes later: still in 10m
	c.sum(&shortSpec, t0+9*60, &out) // read at +9m
	if out != [3]uint32{4, 4, 4} {
		t.Errorf("at +9m: %v", out)
	}
	c.add(&shortSpec, t0+59*60, 1) // 59 minutes later
	c.sum(&shortSpec, t0+59*60, &out)
	if out != [3]uint32{1, 5, 5} {
		t.Errorf("at +59m: %v", out)
	}
	c.sum(&shortSpec, t0+25*3600, &out)
	if out != [3]uint32{0, 0, 0} {
		t.Errorf("at +25h: %v", out)
	}
	// An event older than the ring is ignored, not wrapped onto a new bucket.
	c.add(&shortSpec, t0+30*3600, 1)
	c.add(&shortSpec, t0, 7)
	c.sum(&shortSpec, t0+30*3600, &out)
	if out != [3]uint32{1, 1, 1} {
		t.Errorf("after a stale event: %v", out)
	}
}

func TestDistinctSaturatesAtLimit(t *testing.T) {
	var d distinct
	for i := range 50 {
		d.add(&shortLen, uint64(i), int64(1000+i), 10)
	}
	var out [3]uint32
	d.count(&shortLen, 1100, &out)
	if out != [3]uint32{10, 10, 10} {
		t.Errorf("count = %v, want the limit 10", out)
	}
	if d.size() != 10 {
		t.Errorf("%d members kept, limit 10", d.size())
	}
	// The newest members are the ones kept.
	for _, m := range d.set.nodes {
		if m.h < 40 {
			t.Errorf("old member %d kept over newer ones", m.h)
		}
	}
}

// TestDistinctMatchesBruteForce drives the incremental structure and a
// plain map with the same random stream and compares every count.
func TestDistinctMatchesBruteForce(t *testing.T) {
	for _, limit := range []int{1, 2, 5, 40, 1000} {
		r := rand.New(rand.NewPCG(uint64(limit), 7))
		var d distinct
		seen := map[uint64]int64{}
		now := int64(1_700_000_000)
		for step := range 20000 {
			now += int64(r.IntN(900)) // up to 15 minutes between events
			h := uint64(r.IntN(60))
			if r.IntN(10) == 0 {
				h = uint64(1000 + step) // a fresh member
			}
			d.add(&shortLen, h, now, limit)
			seen[h] = now
			if len(seen) > limit {
				// the model evicts the least recently seen too
				var oldest uint64
				first := true
				for k, v := range seen {
					if first || v < seen[oldest] || v == seen[oldest] && k < oldest {
						oldest, first = k, false
					}
				}
				delete(seen, oldest)
			}
			var want [3]uint32
			for _, last := range seen {
				for w := range shortLen {
					if now-last < shortLen[w] {
						want[w]++
					}
				}
			}
			var got [3]uint32
			d.count(&shortLen, now, &got)
			if got != want {
				t.Fatalf("limit %d step %d: count %v, brute force %v", limit, step, got, want)
			}
		}
	}
}

func TestFreshAddressesCannotEvictAccountWindows(t *testing.T) {
	s := New(Options{Shards: 1, MaxWindowKeys: 20, MaxAccountKeys: 20})
	defer s.Close(context.Background())
	ctx := context.Background()
	victim := key("victim")
	ev := func(i int, acct engine.Key, failed bool) *engine.Event {
		ip := netip.AddrFrom4([4]byte{100, byte(i >> 8), byte(i), 1})
		return &engine.Event{Tenant: "t", Time: base.Add(time.Duration(i) * time.Second), IP: ip, Subnet: engine.SubnetOf(ip), Account: acct, Attempt: true, Failed: failed}
	}
	for i := range 5 {
		if err := s.Record(ctx, ev(i, victim, true)); err != nil {
			t.Fatal(err)
		}
	}
	// A botnet: a thousand fresh addresses, each with a successful attempt
	// on an account of its own.
	for i := range 1000 {
		var st engine.State
		if err := s.Observe(ctx, ev(10+i, key(fmt.Sprint("bot", i)), false), &st); err != nil {
			t.Fatal(err)
		}
	}
	var st engine.State
	if err := s.Observe(ctx, ev(2000, victim, false), &st); err != nil {
		t.Fatal(err)
	}
	if got := st.Counts.AccountFailures[1]; got != 5 {
		t.Errorf("victim's failures after the botnet: %d, want 5", got)
	}
}

func TestReadsWithoutWritesCreateNothing(t *testing.T) {
	s := New(Options{})
	defer s.Close(context.Background())
	ip := netip.MustParseAddr("81.2.69.1")
	// What a dry run sends: nothing to count.
	ev := &engine.Event{Tenant: "t", Time: base, IP: ip, Subnet: engine.SubnetOf(ip), ASN: 3215, Account: key("a"), Username: key("n"), Password: key("p")}
	var st engine.State
	if err := s.Observe(context.Background(), ev, &st); err != nil {
		t.Fatal(err)
	}
	if _, w, _ := s.Len(); w != 0 {
		t.Errorf("a read-only observe created %d window entries", w)
	}
	// A successful attempt counts its username, not an account failure:
	// it must not create an account window.
	ev.Attempt = true
	ev.Password = engine.Key{}
	if err := s.Observe(context.Background(), ev, &st); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range s.shards {
		n += s.shards[i].accounts.Len()
	}
	if n != 0 {
		t.Errorf("a successful attempt created %d account windows", n)
	}
}

// TestDistinctInlineMatchesSet drives a distinct (its first member held
// inline) and a memberSet with the same random stream, late events and
// reads between adds included, and compares every count.
func TestDistinctInlineMatchesSet(t *testing.T) {
	for _, limit := range []int{1, 2, 3, 20} {
		for seed := range uint64(200) {
			r := rand.New(rand.NewPCG(seed, uint64(limit)))
			var d distinct
			var m memberSet
			now := int64(1_700_000_000)
			for step := range 40 {
				now += int64(r.IntN(2000)) - 500 // late events too
				if r.IntN(3) == 0 {
					var got, want [3]uint32
					d.count(&shortLen, now, &got)
					if m.nodes != nil {
						m.count(&shortLen, now, &want)
					}
					if got != want {
						t.Fatalf("limit %d seed %d step %d: read %v, set %v", limit, seed, step, got, want)
					}
					continue
				}
				h := uint64(r.IntN(4))
				d.add(&shortLen, h, now, limit)
				m.add(&shortLen, h, now, limit)
				if d.size() != len(m.nodes) {
					t.Fatalf("limit %d seed %d step %d: %d members, set %d", limit, seed, step, d.size(), len(m.nodes))
				}
			}
		}
	}
}

// TestLearnFromObservedMatchesDecode checks Commit.Observed: learning into
// the profile Observe read gives the same stored profile as decoding it
// again, and a profile that another login changed since it was read is
// not learned into.
func TestLearnFromObservedMatchesDecode(t *testing.T) {
	ctx := context.Background()
	with, without := New(Options{Shards: 4}), New(Options{Shards: 4})
	defer with.Close(ctx)
	defer without.Close(ctx)
	r := rand.New(rand.NewPCG(5, 6))
	countries := []string{"FR", "DE", "US", "JP"}
	for i := range 2000 {
		u := key(fmt.Sprintf("u%d", r.IntN(50)))
		ip := netip.AddrFrom4([4]byte{81, byte(r.IntN(4)), byte(r.IntN(8)), 1})
		at := base.Add(time.Duration(i) * time.Minute)
		l := engine.Login{
			Tenant: "t", User: u, Time: at, IP: ip, Subnet: engine.SubnetOf(ip),
			Device: key(fmt.Sprintf("d%d", r.IntN(6))), Agent: "Chrome/Windows", AgentVersion: uint16(120 + r.IntN(3)),
			Country: countries[r.IntN(len(countries))], ASN: uint32(r.IntN(3)),
		}
		ev := engine.Event{Tenant: "t", Time: at, IP: ip, Subnet: l.Subnet, User: u, Attempt: true}
		var st, other engine.State
		if err := with.Observe(ctx, &ev, &st); err != nil {
			t.Fatal(err)
		}
		if err := without.Observe(ctx, &ev, &other); err != nil {
			t.Fatal(err)
		}
		if st.HasProfile != other.HasProfile || !same(&st.Profile, &other.Profile) {
			t.Fatalf("login %d: the stores read different profiles", i)
		}
		if i%7 == 3 {
			// Another login of the user learned between this one's
			// Observe and Commit: st is stale and must not be learned into.
			between := l
			between.Time = at.Add(-time.Second)
			between.Country = "BR"
			for _, s := range []*Store{with, without} {
				if err := s.Commit(ctx, &engine.Commit{Learn: &between}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := with.Commit(ctx, &engine.Commit{Learn: &l, Observed: &st}); err != nil {
			t.Fatal(err)
		}
		if err := without.Commit(ctx, &engine.Commit{Learn: &l}); err != nil {
			t.Fatal(err)
		}
		a, okA, errA := with.Profile(ctx, "t", u)
		b, okB, errB := without.Profile(ctx, "t", u)
		if errA != nil || errB != nil || okA != okB || !same(&a, &b) {
			t.Fatalf("login %d: learned from the observed profile %+v, from the stored one %+v", i, a, b)
		}
	}
}
