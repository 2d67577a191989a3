package engine

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestRecentDecisionsModel drives the retry cache's rings with random
// puts, gets, drops, forgets and expiries, and checks after every step
// what a retry may rely on:
//   - sound: a decision it gives is the last put under its key, not
//     dropped, not forgotten, not expired;
//   - first in, first out: within a shard, what it holds is the newest of
//     what was put and not since removed, so the last put (when it fits
//     the budget) is always there;
//   - bounded: entries and bytes within the shard's limits, and the
//     ring's bookkeeping (index, holes, bytes) true to its slots.
func TestRecentDecisionsModel(t *testing.T) {
	for _, tc := range []struct {
		name           string
		entries, bytes int
		drops          int // in a hundred operations
	}{
		{"entries bound", 16 * 24, 1 << 30, 7},
		{"bytes bound", 1 << 20, 16 * 12_000, 7},
		{"one a shard", 1, 1 << 30, 7},
		{"mostly holes", 16 * 64, 1 << 30, 30}, // the ring compacts
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(tc.entries)))
			const ttl = time.Minute
			c := newRecentDecisions(tc.entries, tc.bytes, ttl)
			now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			type put struct {
				seq            int
				user, decision string
				expires        time.Time
				removed        bool
			}
			var puts []*put // in put order
			last := map[recentKey]*put{}
			attempt := func(tenant, id, user string) *normalized {
				return &normalized{a: &Attempt{AttemptID: id, UserID: user, IP: "192.0.2.1"}, tenant: tenant}
			}
			for step := range 20_000 {
				now = now.Add(time.Duration(r.IntN(50)) * time.Millisecond)
				tenant := []string{"", "acme"}[r.IntN(2)]
				id := fmt.Sprintf("a%d", r.IntN(400))
				user := fmt.Sprintf("u%d", r.IntN(30))
				k := recentKey{tenant, id}
				switch op := r.IntN(100); {
				case op < 55: // a Score with an attempt_id
					if p := last[k]; p != nil {
						user = p.user // a retry is the same attempt
					}
					n := attempt(tenant, id, user)
					d := Decision{DecisionID: fmt.Sprintf("d%d", step), AttemptID: id, Tenant: tenant}
					d.Signals.Attempt.UserID = user
					// Messages of varied length, so that the byte bound
					// evicts a varying number of decisions.
					d.Reasons = []Reason{{RuleID: "r", Message: strings.Repeat("x", r.IntN(6000))}}
					c.put(n, &d, now, c.erasures.Load())
					if p := last[k]; p != nil {
						p.removed = true
					}
					p := &put{seq: step, user: user, decision: d.DecisionID, expires: now.Add(ttl)}
					puts = append(puts, p)
					last[k] = p
					sh := c.shard(k)
					if decisionBytes(&k, &d) <= sh.budget {
						if _, ok := sh.index[k]; !ok {
							t.Fatalf("step %d: the decision just put is not held", step)
						}
					}
				case op >= 55+tc.drops+3: // a retry
					p := last[k]
					n := attempt(tenant, id, "")
					if p != nil {
						n.a.UserID = p.user
					}
					d, ok, err := c.get(n, now)
					if err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
					if ok && (p == nil || p.removed || now.After(p.expires) || d.DecisionID != p.decision) {
						t.Fatalf("step %d: gave %s for %v; last put %+v", step, d.DecisionID, k, p)
					}
					if p != nil && now.After(p.expires) {
						p.removed = true // get removes what it finds expired
					}
				case op < 55+tc.drops:
					c.drop(attempt(tenant, id, ""))
					if p := last[k]; p != nil {
						p.removed = true
					}
				case op < 55+tc.drops+2:
					c.forget(tenant, user)
					for i := range c.shards {
						sh := &c.shards[i]
						for j := range sh.n {
							if e := &sh.ring[sh.slot(j)]; e.size > 0 && e.key.tenant == tenant && e.d.user == user {
								t.Fatalf("step %d: forget of %q left %v", step, user, e.key)
							}
						}
					}
					for k2, p := range last {
						if k2.tenant == tenant && p.user == user {
							p.removed = true
						}
					}
				default: // time passes
					now = now.Add(ttl / 3)
				}
				checkRings(t, c, step)
			}
			// First in, first out: per shard, once a put that was not
			// removed is gone (evicted), so is every older one.
			evicted := map[*recentShard]int{}
			for i := len(puts) - 1; i >= 0; i-- {
				p := puts[i]
				if p.removed {
					continue
				}
				var k recentKey
				for k2, q := range last {
					if q == p {
						k = k2
					}
				}
				sh := c.shard(k)
				_, held := sh.index[k]
				if seq, ok := evicted[sh]; held && ok {
					t.Fatalf("put %d is held though the newer put %d of its shard was evicted", p.seq, seq)
				}
				if !held {
					if _, ok := evicted[sh]; !ok {
						evicted[sh] = p.seq
					}
				}
			}
		})
	}
}

// checkRings fails unless every shard's bookkeeping matches its slots.
func checkRings(t *testing.T, c *recentDecisions, step int) {
	t.Helper()
	for i := range c.shards {
		sh := &c.shards[i]
		live, holes, bytes := 0, 0, 0
		for j := range sh.n {
			pos := sh.slot(j)
			e := &sh.ring[pos]
			if e.size == 0 {
				holes++
				continue
			}
			live++
			bytes += e.size - slotBytes
			if got, ok := sh.index[e.key]; !ok || int(got) != pos {
				t.Fatalf("step %d, shard %d: slot %d holds %v, indexed at %d (%v)", step, i, pos, e.key, got, ok)
			}
		}
		bytes += len(sh.ring) * slotBytes // every slot, live or not
		for j := sh.n; j < len(sh.ring); j++ {
			if e := &sh.ring[sh.slot(j)]; e.size != 0 || e.d.DecisionID != "" {
				t.Fatalf("step %d, shard %d: a slot outside the ring still holds %v", step, i, e.key)
			}
		}
		switch {
		case live != len(sh.index):
			t.Fatalf("step %d, shard %d: %d decisions, %d indexed", step, i, live, len(sh.index))
		case holes != sh.holes:
			t.Fatalf("step %d, shard %d: %d holes, %d counted", step, i, holes, sh.holes)
		case bytes != sh.bytes || bytes > sh.budget:
			t.Fatalf("step %d, shard %d: %d bytes, %d counted, budget %d", step, i, bytes, sh.bytes, sh.budget)
		case sh.n > sh.limit || len(sh.ring) > sh.limit:
			t.Fatalf("step %d, shard %d: %d slots used of %d, limit %d", step, i, sh.n, len(sh.ring), sh.limit)
		case sh.n > 0 && (sh.ring[sh.tail].size == 0 || sh.ring[sh.slot(sh.n-1)].size == 0):
			t.Fatalf("step %d, shard %d: a hole at an end of the ring", step, i)
		}
	}
}
