package memstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Upper bounds on the live heap one entry of each kind costs, bookkeeping
// (table records and slots, LRU links) included: measured on this store's
// layout, with a margin of about a quarter on the flood below (which grew
// 3.27 MB against a bound of 4.37 MB on 2026-12-04; 4.72 MB against 6.37
// with maps and LRU lists). The memory a store may hold is at most its
// caps times these (README, "Memory bounds").
const (
	bytesPerWindow  = 450  // an address, subnet, ASN, account, password or tenant window key, with a failure counter
	bytesPerMember  = 60   // a member of a distinct-count set (a username, an account)
	bytesPerProfile = 320  // a profile with one entry in each set (a flood's), encoded
	bytesPerPending = 480  // a decision awaiting its outcome, encoded (pending.go)
	bytesPerShard   = 4096 // a shard's own tables
)

func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func fresh(i int, what string) engine.Key {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s%d", what, i))
	return engine.Key(sum[:16])
}

// TestFloodStaysBounded (issue 10 item 9) floods the store with what an
// attacker chooses freely (fresh addresses and subnets, usernames,
// accounts, password hashes, users, decisions) and holds its heap to the
// bound its caps imply. Before MaxMembers, trying many usernames from
// many addresses grew memory with MaxWindowKeys x MaxDistinct.
func TestFloodStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the store")
	}
	opts := Options{Shards: 4, MaxUsers: 2000, MaxWindowKeys: 2000, MaxAccountKeys: 2000, MaxPending: 1000, MaxDistinct: 50, MaxMembers: 20000}
	before := liveHeap()
	s := New(opts)
	defer s.Close(context.Background())
	ctx := context.Background()
	at := base
	ev := func(i int) *engine.Event {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		e := &engine.Event{Tenant: "t", Time: at, IP: ip, Subnet: engine.SubnetOf(ip), ASN: uint32(64000 + i%5000), Attempt: true, Failed: true,
			Username: fresh(i, "n"), Account: fresh(i, "a"), Password: fresh(i, "p")}
		return e
	}
	var st engine.State
	// Fresh everything: every attempt a new address, subnet, account and
	// password hash.
	for i := range 20000 {
		at = at.Add(time.Millisecond)
		if err := s.Observe(ctx, ev(i*257), &st); err != nil {
			t.Fatal(err)
		}
	}
	// Many usernames from each of 600 addresses (and their ASNs), few enough
	// that their window keys stay: the sets fill to MaxDistinct.
	for i := range 600 * opts.MaxDistinct {
		at = at.Add(time.Millisecond)
		e := ev(i % 600)
		e.Username = fresh(i, "victim")
		if err := s.Observe(ctx, e, &st); err != nil {
			t.Fatal(err)
		}
	}
	// Fresh users learned, fresh decisions pending.
	for i := range 10000 {
		ip := netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
		l := engine.Login{Tenant: "t", User: fresh(i, "u"), Time: at, IP: ip, Subnet: engine.SubnetOf(ip), Device: fresh(i, "d"),
			Agent: "chrome/windows", Country: "FR", City: "Paris", ASN: uint32(i), HasLocation: true, Lat: 48.85, Lon: 2.35, AccuracyKM: 20}
		p := engine.Pending{DecisionID: fmt.Sprintf("01JFLOOD%018d", i), Action: engine.ActionStepUp, Event: *ev(i), Login: l}
		if err := s.Commit(ctx, &engine.Commit{Learn: &l, Pending: &p}); err != nil {
			t.Fatal(err)
		}
	}
	profiles, windows, pending := s.Len()
	members := s.Members()
	var accounts int
	for i := range s.shards {
		accounts += s.shards[i].accounts.Len()
	}
	t.Logf("held: %d profiles, %d window keys (%d account and password), %d members, %d pending", profiles, windows, accounts, members, pending)
	per := func(n, shards int) int { return shards * ((n + shards - 1) / shards) }
	if profiles > per(opts.MaxUsers, 4) || windows-accounts > per(opts.MaxWindowKeys, 4) || accounts > per(opts.MaxAccountKeys, 4) || pending > per(opts.MaxPending, 4) {
		t.Errorf("a count exceeds its cap: %+v", opts)
	}
	if members > opts.MaxMembers {
		t.Errorf("%d members held, cap %d", members, opts.MaxMembers)
	}
	// Stats agrees with the tables and counts what the bounds pushed out.
	stats := s.Stats()
	t.Logf("stats: %+v", stats)
	for _, c := range []struct {
		name       string
		ts         TableStats
		held, went int // went: at least this many were evicted
	}{
		{"profiles", stats.Profiles, profiles, 10000 - per(opts.MaxUsers, 4)},
		{"windows", stats.Windows, windows - accounts, 1},
		{"accounts", stats.Accounts, accounts, 2*20000 - per(opts.MaxAccountKeys, 4)},
		{"pending", stats.Pending, pending, 10000 - per(opts.MaxPending, 4)},
	} {
		if c.ts.Entries != c.held || c.ts.Entries > c.ts.Capacity || c.ts.Evicted < uint64(c.went) {
			t.Errorf("%s: %+v; held %d, at least %d evicted", c.name, c.ts, c.held, c.went)
		}
	}
	bound := int64(opts.MaxUsers*bytesPerProfile + (opts.MaxWindowKeys+opts.MaxAccountKeys)*bytesPerWindow +
		opts.MaxMembers*bytesPerMember + opts.MaxPending*bytesPerPending + opts.Shards*bytesPerShard)
	grown := liveHeap() - before
	t.Logf("heap grew %d bytes; bound from the caps %d", grown, bound)
	if grown > bound {
		t.Errorf("heap grew %d bytes, over the %d the caps allow", grown, bound)
	}
	runtime.KeepAlive(s)
}

// TestPendingHeldCompactly holds decisions pending their outcome to
// their bound in bytes and, the reason they are held encoded, to next to
// no heap objects: as engine.Pending values with an LRU element and map
// entry each they were several objects a decision for every collection
// to trace, most of a loaded node's (benchmarks/README.md, 2026-12-05).
func TestPendingHeldCompactly(t *testing.T) {
	const n = 20000
	ps := make([]engine.Pending, n)
	for i := range ps {
		ip := netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
		l := engine.Login{Tenant: "t", User: fresh(i, "u"), Time: base, IP: ip, Subnet: engine.SubnetOf(ip), Device: fresh(i, "d"),
			Agent: "chrome/windows", Country: "FR", City: "Paris", ASN: uint32(i), HasLocation: true, Lat: 48.85, Lon: 2.35, AccuracyKM: 20}
		ev := engine.Event{Tenant: "t", Time: base, User: l.User, Account: l.User, Username: fresh(i, "n"), IP: ip, Subnet: l.Subnet, ASN: l.ASN}
		ps[i] = engine.Pending{DecisionID: fmt.Sprintf("01JPENDING%016d", i), Action: engine.ActionStepUp, Event: ev, Login: l}
	}
	ctx := context.Background()
	s := New(Options{Shards: 4, MaxPending: 2 * n}) // room to spare: the bound is per shard
	defer s.Close(ctx)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range ps {
		if err := s.Commit(ctx, &engine.Commit{Pending: &ps[i]}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	bytes := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	objects := float64(int64(after.HeapObjects)-int64(before.HeapObjects)) / n
	t.Logf("%d bytes and %.3f heap objects a pending decision", bytes, objects)
	if bytes > bytesPerPending {
		t.Errorf("%d bytes a pending decision, bound %d", bytes, bytesPerPending)
	}
	if objects > 0.05 {
		t.Errorf("%.3f heap objects a pending decision", objects)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		got, ok, err := s.TakePending(ctx, "t", ps[i].DecisionID)
		if err != nil || !ok || got.DecisionID != ps[i].DecisionID || got.Login.User != ps[i].Login.User {
			t.Errorf("TakePending(%d) = %v, %v, %v", i, got.DecisionID, ok, err)
		}
	}
}

// TestAttemptsHeldCompactly: the attempt ids remembered for redeliveries,
// with their decisions' records, are next to no heap objects either (an
// LRU entry, a record and a list element each before).
func TestAttemptsHeldCompactly(t *testing.T) {
	const n = 20000
	a := newAttempts(2 * n) // room to spare: the bound is per shard
	record := make([]byte, 120)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		k := attemptID{7, fresh(i, "attempt")}
		if a.observe(k, engine.Key{}, 100, 600, nil) {
			t.Fatalf("attempt %d seen before it was", i)
		}
		a.decided(k, engine.Key{}, 100, 600, record)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	objects := float64(int64(after.HeapObjects)-int64(before.HeapObjects)) / n
	t.Logf("%d bytes and %.3f heap objects an attempt", (int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, objects)
	if objects > 0.05 {
		t.Errorf("%.3f heap objects an attempt", objects)
	}
	var st engine.State
	if !a.observe(attemptID{7, fresh(5, "attempt")}, engine.Key{}, 200, 600, &st) || !st.Replayed || len(st.Decided) != len(record) {
		t.Errorf("a redelivery: replayed %v, %d bytes of record", st.Replayed, len(st.Decided))
	}
	if a.observe(attemptID{8, fresh(5, "attempt")}, engine.Key{}, 200, 600, nil) {
		t.Error("another tenant's attempt of the same id was taken for a redelivery")
	}
	if a.observe(attemptID{7, fresh(6, "attempt")}, engine.Key{}, 700, 600, nil) {
		t.Error("an attempt past its window was taken for a redelivery")
	}
}
