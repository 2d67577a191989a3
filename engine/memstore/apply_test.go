package memstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// observeOneByOne is Observe as it was before windows were found in a
// batch: each window found and written under its own shard's lock, one
// after the other, with the same window code. TestBatchMatchesOneByOne
// holds the batch to it.
func (s *Store) observeOneByOne(ev *engine.Event, st *engine.State) {
	now := s.now()
	th := s.tenant(ev.Tenant)
	var blob []byte
	if !ev.User.IsZero() {
		var b batch
		b.profile(s, th, ev.User)
		b.prof.mu.Lock()
		if i := b.prof.profiles.find(&b.profKey, b.profHash); i >= 0 {
			if e := &b.prof.profiles.at(i).val; now-e.touched < int64(s.opts.ProfileTTL/time.Second) {
				blob = e.blob
			}
		}
		b.prof.mu.Unlock()
	}
	var all batch
	all.windows(s, ev, th)
	short := at(&shortSpec, ev.Time.Unix())
	for i := range all.p[:all.n] {
		var one batch
		one.p[0], one.n = all.p[i], 1
		one.lock(s)
		one.find()
		s.apply(&one, ev, st, now, &short)
	}
	s.applyTenant(ev, th, st, now, &short)
	st.HasProfile = blob != nil && decodeProfile(blob, &st.Profile) == nil
}

// TestBatchMatchesOneByOne feeds two stores with the same seed (so the
// same shards) the same random events, under bounds small enough that an
// event's own inserts evict the windows it found a moment before, and
// member budgets that make it evict more: one store through Observe, the
// other window by window. Every count, and what each store holds, must
// be the same.
func TestBatchMatchesOneByOne(t *testing.T) {
	for _, shards := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			opts := Options{Shards: shards, MaxUsers: 4, MaxWindowKeys: 3 * shards, MaxAccountKeys: 2 * shards, MaxDistinct: 3, MaxMembers: 4 * shards}
			batched, oneByOne := New(opts), New(opts)
			defer batched.Close(context.Background())
			defer oneByOne.Close(context.Background())
			oneByOne.seed = batched.seed
			r := rand.New(rand.NewPCG(7, uint64(shards)))
			ctx := context.Background()
			pick := func(n int, prefix string) engine.Key { return key(fmt.Sprintf("%s%d", prefix, r.IntN(n))) }
			for i := range 5000 {
				ip := netip.AddrFrom4([4]byte{10, byte(r.IntN(3)), byte(r.IntN(3)), byte(r.IntN(4))})
				ev := engine.Event{Tenant: "t", Time: base.Add(time.Duration(i) * 7 * time.Second), IP: ip, Attempt: r.IntN(4) > 0}
				ev.Failed = ev.Attempt && r.IntN(3) == 0
				if r.IntN(4) > 0 {
					ev.Subnet = engine.SubnetOf(ip)
				}
				if r.IntN(2) == 0 {
					ev.ASN = uint32(1 + r.IntN(3))
				}
				if r.IntN(5) > 0 {
					ev.User = pick(6, "u")
					ev.Username, ev.Account = ev.User, ev.User
					if r.IntN(2) == 0 {
						ev.Password = pick(3, "p")
					}
				}
				var got, want engine.State
				if err := batched.Observe(ctx, &ev, &got); err != nil {
					t.Fatal(err)
				}
				oneByOne.observeOneByOne(&ev, &want)
				if got.Counts != want.Counts || got.HasProfile != want.HasProfile {
					t.Fatalf("event %d %+v:\nbatched    %+v\none by one %+v", i, ev, got.Counts, want.Counts)
				}
				if !ev.User.IsZero() && r.IntN(3) == 0 {
					c := &engine.Commit{Learn: &engine.Login{Tenant: "t", User: ev.User, Time: ev.Time}}
					for _, s := range []*Store{batched, oneByOne} {
						if err := s.Commit(ctx, c); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			gp, gw, _ := batched.Len()
			wp, ww, _ := oneByOne.Len()
			if gp != wp || gw != ww || batched.Members() != oneByOne.Members() {
				t.Errorf("held: batched %d profiles, %d windows, %d members; one by one %d, %d, %d",
					gp, gw, batched.Members(), wp, ww, oneByOne.Members())
			}
		})
	}
}

// TestWindowEvictedByItsOwnEvent: an event's new address evicts the
// subnet window the same event found a moment before; the subnet must be
// counted afresh, not written through the index it had.
func TestWindowEvictedByItsOwnEvent(t *testing.T) {
	s := New(Options{Shards: 1, MaxWindowKeys: 3})
	defer s.Close(context.Background())
	ctx := context.Background()
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	subnet := engine.SubnetOf(a)
	observe := func(ev engine.Event) engine.State {
		t.Helper()
		ev.Tenant, ev.Time = "t", base
		var st engine.State
		if err := s.Observe(ctx, &ev, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	observe(engine.Event{IP: a, Subnet: subnet, Username: key("u1"), Attempt: true}) // a, the subnet, the tenant
	observe(engine.Event{IP: a, Username: key("u1"), Attempt: true})                 // the subnet is now the oldest
	// b's insert evicts the subnet the event found; the subnet then
	// evicts a.
	observe(engine.Event{IP: b, Subnet: subnet, Username: key("u2"), Attempt: true})
	st := observe(engine.Event{IP: b, Subnet: subnet}) // a read: nothing counted
	if got := st.Counts.Subnet.Usernames; got != [3]uint32{1, 1, 1} {
		t.Errorf("subnet's usernames after it was evicted and seen again: %v, want one in each window", got)
	}
	if got := st.Counts.IP.Usernames; got != [3]uint32{1, 1, 1} {
		t.Errorf("b's usernames: %v, want one in each window", got)
	}
}

// TestBatchLocksInOrder: an event locks each of its shards once, in
// index order, whatever order its keys come in. Two events locking in
// different orders could each hold a shard the other waits for.
func TestBatchLocksInOrder(t *testing.T) {
	s := New(Options{Shards: 5})
	defer s.Close(context.Background())
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 2000 {
		ip := netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		u := key(fmt.Sprintf("u%d", i))
		ev := engine.Event{Tenant: "t", IP: ip, Subnet: engine.SubnetOf(ip), ASN: uint32(r.IntN(3)), Account: u, Password: key(fmt.Sprintf("p%d", i))}
		var b batch
		b.windows(s, &ev, s.tenant("t"))
		b.profile(s, s.tenant("t"), u)
		want := map[int]bool{b.profShard: true}
		for _, p := range b.p[:b.n] {
			want[p.shard] = true
		}
		b.lock(s)
		set, n := b.shards()
		got := set[:n]
		for j := range got {
			if !want[got[j]] || j > 0 && got[j] <= got[j-1] {
				t.Fatalf("event %d locked shards %v; its shards are %v", i, got, want)
			}
			if s.shards[got[j]].mu.TryLock() {
				t.Fatalf("event %d: shard %d not locked", i, got[j])
			}
		}
		if len(got) != len(want) {
			t.Fatalf("event %d locked shards %v; its shards are %v", i, got, want)
		}
		// Each shard is released after the last window in it, the
		// profile's alone after the profile's read.
		for j := -1; j < b.n; j++ {
			b.done(s, j)
			for _, k := range got {
				last := -1
				for w := range b.p[:b.n] {
					if b.p[w].shard == k {
						last = w
					}
				}
				if free := s.shards[k].mu.TryLock(); free != (last <= j) {
					t.Fatalf("event %d: after window %d, shard %d (last used by window %d) unlocked: %v", i, j, k, last, free)
				} else if free {
					s.shards[k].mu.Unlock()
				}
			}
		}
		for j := range s.shards {
			if !s.shards[j].mu.TryLock() {
				t.Fatalf("event %d: shard %d still locked", i, j)
			}
			s.shards[j].mu.Unlock()
		}
	}
}

// TestConcurrentBatchesFinish runs events whose windows share a few
// shards from several goroutines at once (under -race in CI, which checks
// that every access is under its shard's lock).
func TestConcurrentBatchesFinish(t *testing.T) {
	s := New(Options{Shards: 4})
	defer s.Close(context.Background())
	done := make(chan error)
	for g := range 4 {
		go func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for i := range 20000 {
				ip := netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(8)), byte(r.IntN(8))})
				u := key(fmt.Sprintf("u%d", r.IntN(50)))
				ev := engine.Event{Tenant: "t", Time: base.Add(time.Duration(i) * time.Second), IP: ip, Subnet: engine.SubnetOf(ip),
					ASN: uint32(1 + r.IntN(4)), User: u, Account: u, Username: u, Password: key(fmt.Sprintf("p%d", r.IntN(5))), Attempt: true}
				var st engine.State
				if err := s.Observe(context.Background(), &ev, &st); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	deadline := time.After(2 * time.Minute)
	for range 4 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("observers still running after two minutes: deadlocked on shard locks")
		}
	}
}
