package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/internal/redistest"
)

// bucketModel is the exact distinct count the HyperLogLog windows
// estimate: members per bucket, a window being its n buckets ending at the
// event's own.
type bucketModel map[int64]map[string]bool

func (m bucketModel) add(b int64, member string) {
	if m[b] == nil {
		m[b] = map[string]bool{}
	}
	m[b][member] = true
}

func (m bucketModel) count(idx, n int64) int {
	seen := map[string]bool{}
	for b := idx - n + 1; b <= idx; b++ {
		for k := range m[b] {
			seen[k] = true
		}
	}
	return len(seen)
}

// TestWindowsAgainstModels replays random streams with out-of-order and
// late events into the Redis store and the memory store: failure counts
// must be identical (same ring semantics), distinct counts within the
// HyperLogLog tolerance of the exact bucketed count. Window union keys are
// deleted now and then, as an eviction would, and must be rebuilt. The
// streams keep the distinct sets small (exact sets in the state), make
// them medium (sorted sets) or large (HyperLogLogs), or go from large to
// small after a pause.
func TestWindowsAgainstModels(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		name         string
		smallSet     int // Options.SmallSet
		users, small int
		late         int // one event in late is dated back
		form         byte
	}{
		// Up to 16 members in the state value.
		{"Tiny", testSmall, testSmall - 2, testSmall - 2, 0, 0},
		// A sorted set: more than 16 members, fewer than SmallSet.
		{"Sorted", 100, 60, 60, 0, flagSorted},
		{"Large", testSmall, 60, 60, 10, flagHLL},
		{"LargeThenSmall", testSmall, 40, 5, 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := replayModels(t, srv, tc.smallSet, tc.users, tc.small, tc.late)
			// Which form the address's usernames ended in (the state's
			// first byte).
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
			defer rdb.Close()
			key := s.keys.addr(fmt.Sprint("model", tc.users, tc.small), netip.MustParseAddr("81.2.69.160"), sufWindows)
			state, err := rdb.Get(context.Background(), key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got := state[0] &^ flagRings; got != tc.form {
				t.Errorf("distinct-count form %#x at the end, want %#x", got, tc.form)
			}
		})
	}
}

func replayModels(t *testing.T, srv *redistest.Server, smallSet, users, small, late int) *Store {
	s := newTestStore(t, srv.URL, Options{SmallSet: smallSet})
	defer s.Close(context.Background())
	mem := memstore.New(memstore.Options{})
	defer mem.Close(context.Background())
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 8))

	ip := netip.MustParseAddr("81.2.69.160")
	pw := userKey(t, "password")
	tenant := fmt.Sprint("model", users, small)
	models := map[string]bucketModel{} // per series and window
	model := func(name string) bucketModel {
		if models[name] == nil {
			models[name] = bucketModel{}
		}
		return models[name]
	}
	at := t0
	var converted time.Time // by then the large streams have many members
	for i := range 1500 {
		// Mostly forward in time by up to 40s, sometimes a burst, sometimes
		// an event from up to two hours back. Halfway, a pause of two days
		// and fewer users.
		at = at.Add(time.Duration(r.IntN(40)) * time.Second)
		pop := users
		if i == 750 {
			at = at.Add(48 * time.Hour)
		}
		if i >= 750 {
			pop = small
		}
		if i == 100 {
			converted = at
		}
		evAt := at
		// Late events only while the sets are HyperLogLogs: a small set
		// counts a member by its last sighting, and a late event dated
		// before it would not see it (documented in lua/batch.lua).
		if late > 0 && i > 100 && i < 750 && r.IntN(late) == 0 {
			evAt = at.Add(-time.Duration(r.IntN(7200)) * time.Second)
			if evAt.Before(converted) {
				evAt = converted
			}
		}
		user := fmt.Sprint("u", r.IntN(pop))
		ev := &engine.Event{
			Tenant: tenant, Time: evAt, IP: ip, Subnet: engine.SubnetOf(ip), ASN: 64500,
			User: userKey(t, user), Account: userKey(t, user), Username: userKey(t, "n"+user), Password: pw,
			Attempt: true, Failed: r.IntN(3) == 0,
		}
		var got, want engine.State
		if err := s.Observe(ctx, ev, &got); err != nil {
			t.Fatal(err)
		}
		if err := mem.Observe(ctx, ev, &want); err != nil {
			t.Fatal(err)
		}
		g, w := got.Counts, want.Counts
		if g.IP.Failures != w.IP.Failures || g.Subnet.Failures != w.Subnet.Failures || g.ASN.Failures != w.ASN.Failures ||
			g.AccountFailures != w.AccountFailures || g.TenantAttempts != w.TenantAttempts || g.TenantFailures != w.TenantFailures {
			t.Fatalf("event %d at %v: counts differ from the memory store:\nredis  %+v\nmemory %+v", i, evAt, g, w)
		}
		tsec := evAt.Unix()
		var wantU, wantA [3]int
		for k, sp := range shortSpec {
			m := model("u" + sp.Name)
			m.add(tsec/sp.Width, user)
			wantU[k] = m.count(tsec/sp.Width, sp.Buckets)
		}
		for k, sp := range longSpec {
			m := model("a" + sp.Name)
			m.add(tsec/sp.Width, user)
			wantA[k] = m.count(tsec/sp.Width, sp.Buckets)
		}
		for k := range 3 {
			if !near(g.IP.Usernames[k], wantU[k]) || !near(g.ASN.Usernames[k], wantU[k]) || !near(g.PasswordAccounts[k], wantA[k]) {
				t.Fatalf("event %d at %v: usernames %v / %v, accounts %v, want about %v and %v", i, evAt, g.IP.Usernames, g.ASN.Usernames, g.PasswordAccounts, wantU, wantA)
			}
		}
		if i%97 == 0 {
			// An eviction takes the address's window unions.
			base := s.keys.addr(tenant, ip, "")
			if err := rdb.Del(ctx, base+":u10m:w", base+":u1h:w", base+":u24h:w").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// near is the conformance suite's tolerance for distinct counts.
func near(got uint32, want int) bool {
	d := int(got) - want
	if d < 0 {
		d = -d
	}
	return d <= max(1, want/50)
}

// TestSortedCounts checks the counts the sorted form keeps and its
// upgrade. Two tenants get the same stream (60 usernames at one address,
// some events late); in the second, the address's and the subnet's states
// are turned back, twice, into the sorted form of before the kept counts
// (flag 4: the time to live bucket alone), as a node of the previous
// version left them. Every count of the two tenants must be equal, and the
// first's usernames equal to the sorted set's own ZCOUNTs of the event's
// windows.
func TestSortedCounts(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{SmallSet: 100})
	defer s.Close(context.Background())
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	ip := netip.MustParseAddr("81.2.69.160")
	downgrade := func(key string) {
		t.Helper()
		v, err := rdb.Get(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		d := 1 + int(v[0]&flagRings)*ringSize(&shortSpec)
		if v[0]&^flagRings != flagSorted || len(v) != d+4+16 {
			t.Fatalf("%s: state of form %#x and %d bytes, want the sorted form with its counts", key, v[0], len(v))
		}
		old := string([]byte{v[0]&flagRings | flagSortedV1}) + v[1:d+4]
		if err := rdb.Set(ctx, key, old, redis.KeepTTL).Err(); err != nil {
			t.Fatal(err)
		}
	}
	at := t0
	kept := 0 // events answered from the kept counts
	for i := range 600 {
		// Several events a minute, often the same user: counts kept.
		at = at.Add(time.Duration(r.IntN(30)) * time.Second)
		evAt := at
		if i > 100 && r.IntN(10) == 0 {
			evAt = at.Add(-time.Duration(r.IntN(7200)) * time.Second)
		}
		user := fmt.Sprint("u", r.IntN(60))
		if i%3 == 1 {
			user = fmt.Sprint("u", i%5)
		}
		failed := r.IntN(3) == 0
		var st [2]engine.State
		zk := s.keys.addr("sorted", ip, "") + ":m"
		card0, _ := rdb.ZCard(ctx, zk).Result()
		before, _ := rdb.ZRangeWithScores(ctx, zk, 0, -1).Result()
		for k, tenant := range []string{"sorted", "upgraded"} {
			ev := &engine.Event{
				Tenant: tenant, Time: evAt, IP: ip, Subnet: engine.SubnetOf(ip),
				Username: userKey(t, "n"+user), Attempt: true, Failed: failed,
			}
			if err := s.Observe(ctx, ev, &st[k]); err != nil {
				t.Fatal(err)
			}
		}
		if st[0].Counts != st[1].Counts {
			t.Fatalf("event %d at %v: counts differ after the upgrade:\nnew      %+v\nupgraded %+v", i, evAt, st[0].Counts, st[1].Counts)
		}
		state, err := rdb.Get(ctx, s.keys.addr("sorted", ip, sufWindows)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if state[0]&^flagRings != flagSorted {
			if i >= 200 {
				t.Fatalf("event %d: form %#x, want the sorted set by now", i, state[0])
			}
			continue
		}
		// The state keeps the counts just returned, for the event's
		// finest bucket.
		d := 1 + int(state[0]&flagRings)*ringSize(&shortSpec)
		var want [20]byte
		put32(want[4:], uint32(evAt.Unix()/shortSpec[0].Width))
		for k, c := range st[0].Counts.IP.Usernames {
			put32(want[8+4*k:], c)
		}
		if len(state) != d+20 || state[d+4:] != string(want[4:]) {
			t.Fatalf("event %d: state %x, want its counts %x after byte %d", i, state, want[4:], d+4)
		}
		after, _ := rdb.ZRangeWithScores(ctx, zk, 0, -1).Result()
		if card0 > 0 && fmt.Sprint(before) == fmt.Sprint(after) {
			kept++
		}
		for k, sp := range shortSpec {
			ratio := sp.Width / shortSpec[0].Width
			idx := evAt.Unix() / sp.Width
			lo, hi := (idx-sp.Buckets+1)*ratio, (idx+1)*ratio-1
			n, err := rdb.ZCount(ctx, zk, fmt.Sprint(lo), fmt.Sprint(hi)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got := st[0].Counts.IP.Usernames[k]; int64(got) != n {
				t.Fatalf("event %d at %v, window %s: %d usernames, the sorted set has %d", i, evAt, sp.Name, got, n)
			}
		}
		if i == 200 || i == 400 {
			downgrade(s.keys.addr("upgraded", ip, sufWindows))
			downgrade(s.keys.subnet("upgraded", engine.SubnetOf(ip), sufWindows))
		}
	}
	if kept < 30 {
		t.Errorf("%d events left the sorted set as it was, want more for the test to mean something", kept)
	}
}
