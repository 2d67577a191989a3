package engine

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// recentDecisions makes attempt_id an idempotency key: a retried Score
// (the identity server timed out and asked again) gets the decision it
// would have got the first time, and is not counted twice in the windows
// nor learned twice. It remembers the decisions of attempts that carried
// their own attempt_id, for a while and up to a bound.
//
// The memory is this process's: behind a load balancer, a retry that
// reaches another node is scored again. Route by user (or attempt) for
// exactly-once scoring across nodes.
type recentDecisions struct {
	seed   maphash.Seed
	ttl    time.Duration
	shards [16]recentShard
}

type recentShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[recentKey, *recentDecision]
}

type recentKey struct {
	tenant, attemptID string
}

type recentDecision struct {
	d           Decision
	fingerprint uint64
	expires     time.Time
}

func newRecentDecisions(entries int, ttl time.Duration) *recentDecisions {
	r := &recentDecisions{seed: maphash.MakeSeed(), ttl: ttl}
	per := max(1, entries/len(r.shards))
	for i := range r.shards {
		r.shards[i].lru, _ = simplelru.NewLRU[recentKey, *recentDecision](per, nil)
	}
	return r
}

func (r *recentDecisions) shard(k recentKey) *recentShard {
	return &r.shards[maphash.Comparable(r.seed, k)%uint64(len(r.shards))]
}

// fingerprint identifies what the attempt says, so that an attempt_id
// reused for a different attempt is refused rather than answered with
// someone else's decision.
func (r *recentDecisions) fingerprint(n *normalized) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	a := n.a
	for _, s := range [...]string{a.UserID, n.username, a.IP, a.DeviceID, a.UserAgent, a.PasswordSHA1, a.Channel} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	h.WriteByte(byte(a.Result))
	return h.Sum64()
}

// get returns the decision already made for the attempt, if any. ok is
// false when the attempt is new; err is set when the id was used before
// for a different attempt.
func (r *recentDecisions) get(n *normalized, now time.Time) (d Decision, ok bool, err error) {
	k := recentKey{n.tenant, n.a.AttemptID}
	sh := r.shard(k)
	sh.mu.Lock()
	e, found := sh.lru.Get(k)
	if found && now.After(e.expires) {
		sh.lru.Remove(k)
		found = false
	}
	sh.mu.Unlock()
	if !found {
		return Decision{}, false, nil
	}
	if e.fingerprint != r.fingerprint(n) {
		return Decision{}, false, fieldErr("attempt_id", "already used for a different attempt")
	}
	return e.d, true, nil
}

func (r *recentDecisions) put(n *normalized, d *Decision, now time.Time) {
	e := &recentDecision{d: *d, fingerprint: r.fingerprint(n), expires: now.Add(r.ttl)}
	k := recentKey{n.tenant, n.a.AttemptID}
	sh := r.shard(k)
	sh.mu.Lock()
	sh.lru.Add(k, e)
	sh.mu.Unlock()
}
