package engine

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// liveHeap is the heap's size after a collection: what is still referred
// to, for the flood tests that bound it.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestRecentDecisionsHeapWithinMaxBytes: the retry cache holds at most
// RetryMaxBytes (Options), whatever the decisions' sizes and whatever
// was dropped: a flood of ordinary decisions (a few dropped, as a
// shared store's erasures and expired retries drop them), then a flood
// of decisions carrying large attempts. decisionBytes counts a live
// decision's slot, but not the empty slots a ring grown for many small
// decisions keeps for ever.
func TestRecentDecisionsHeapWithinMaxBytes(t *testing.T) {
	const budget = 4 << 20
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	before := liveHeap()
	c := newRecentDecisions(100_000, budget, time.Hour)
	var prev *normalized
	for i := range 40_000 {
		n := &normalized{a: &Attempt{AttemptID: fmt.Sprintf("small-%d", i), UserID: "u", IP: "192.0.2.1"}, tenant: "acme"}
		d := Decision{DecisionID: fmt.Sprintf("d%d", i), AttemptID: n.a.AttemptID, Tenant: "acme", Time: now, Reasons: []Reason{}}
		c.put(n, &d, now, c.erasures.Load())
		if i%3 == 2 && prev != nil {
			c.drop(prev) // a hole behind the head
		}
		prev = n
	}
	small := liveHeap() - before
	msg := strings.Repeat("m", 16<<10)
	for i := range 4_000 {
		n := &normalized{a: &Attempt{AttemptID: fmt.Sprintf("large-%d", i), UserID: "u", IP: "192.0.2.1"}, tenant: "acme"}
		d := Decision{DecisionID: fmt.Sprintf("D%d", i), AttemptID: n.a.AttemptID, Tenant: "acme", Time: now,
			Reasons: []Reason{{RuleID: "r", Message: msg[:len(msg)-i%7]}}} // its own copy of the message
		d.Reasons[0].Message = strings.Clone(d.Reasons[0].Message)
		c.put(n, &d, now, c.erasures.Load())
	}
	large := liveHeap() - before
	slots := 0
	for i := range c.shards {
		slots += len(c.shards[i].ring)
	}
	runtime.KeepAlive(c)
	t.Logf("after small decisions: heap grew %d; after large: %d; %d ring slots (%d bytes); budget %d",
		small, large, slots, slots*int(unsafeSizeofRecentDecision), budget)
	// 10% for the maps' buckets and the allocator's rounding.
	if limit := int64(budget * 11 / 10); small > limit || large > limit {
		t.Errorf("the retry cache grew the heap by %d then %d bytes, over RetryMaxBytes %d", small, large, budget)
	}
}

var unsafeSizeofRecentDecision = func() uintptr { var d recentDecision; return unsafe.Sizeof(d) }()

// TestRecentDecisionsCompactAtTheLimit: a ring at its limit (entries)
// that is half holes is compacted, as one below it is, rather than
// evicting its oldest decision while it holds a quarter of what it may.
func TestRecentDecisionsCompactAtTheLimit(t *testing.T) {
	const per = 8 // entries a shard
	c := newRecentDecisions(16*per, 1<<30, time.Hour)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	sh := &c.shards[0]
	ns := shardAttempts(c, sh, per+1)
	put := func(n *normalized) {
		d := Decision{DecisionID: "d-" + n.a.AttemptID, AttemptID: n.a.AttemptID, Tenant: n.tenant, Time: now, Reasons: []Reason{}}
		c.put(n, &d, now, c.erasures.Load())
	}
	for _, n := range ns[:per] {
		put(n)
	}
	for _, n := range ns[1 : per-1] {
		c.drop(n) // erased on another node, say: holes between the first and the last
	}
	put(ns[per])
	for _, n := range []*normalized{ns[0], ns[per-1], ns[per]} {
		if _, ok, _ := c.get(n, now); !ok {
			t.Errorf("%s is not held: the shard holds %d decisions of %d", n.a.AttemptID, len(sh.index), per)
		}
	}
	checkRings(t, c, 0)
}

// TestRecentDecisionsCountEvictions: a decision dropped for room before
// its window ended is counted evicted (RetryStats), one whose window had
// ended by then is not: it was of no use any more.
func TestRecentDecisionsCountEvictions(t *testing.T) {
	const per = 8 // entries a shard
	for _, tc := range []struct {
		name    string
		later   time.Duration // between the first decisions and the next
		evicted uint64
	}{
		{"within the window", time.Minute, 2},
		{"after the window", 2 * time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newRecentDecisions(16*per, 1<<30, time.Hour)
			now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			sh := &c.shards[0]
			ns := shardAttempts(c, sh, per+2)
			put := func(n *normalized, at time.Time) {
				d := Decision{DecisionID: "d-" + n.a.AttemptID, AttemptID: n.a.AttemptID, Tenant: n.tenant, Time: at, Reasons: []Reason{}}
				c.put(n, &d, at, c.erasures.Load())
			}
			for _, n := range ns[:per] {
				put(n, now)
			}
			put(ns[per], now.Add(tc.later))
			put(ns[per+1], now.Add(tc.later))
			if sh.evicted != tc.evicted {
				t.Fatalf("%d evicted, want %d", sh.evicted, tc.evicted)
			}
		})
	}
}

// shardAttempts are n attempts whose decisions c keeps in shard sh.
func shardAttempts(c *recentDecisions, sh *recentShard, n int) []*normalized {
	var ns []*normalized
	for i := 0; len(ns) < n; i++ {
		a := &normalized{a: &Attempt{AttemptID: fmt.Sprint("a", i), UserID: "u", IP: "192.0.2.1"}, tenant: "acme"}
		if c.shard(recentKey{a.tenant, a.a.AttemptID}) == sh {
			ns = append(ns, a)
		}
	}
	return ns
}
