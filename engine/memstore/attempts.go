package memstore

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/riskgate/riskgate/engine"
)

// attempts remember the attempt ids observed within the attempt window
// (Options.AttemptWindow), bounded by Options.MaxAttempts (least recently
// observed first out), with the decision committed for each: a
// redelivered attempt is read, not counted again, and gets its decision
// back (engine.State.Replayed, Decided). In memory, "any node" is this
// process.
type attempts struct {
	shards [16]attemptShard
}

type attemptShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[attemptID, *attemptEntry]
}

type attemptID struct {
	t  tenantHash
	id engine.Key
}

type attemptEntry struct {
	expires int64 // unix seconds
	record  []byte
}

func newAttempts(max int) *attempts {
	a := &attempts{}
	per := max/len(a.shards) + 1
	for i := range a.shards {
		a.shards[i].lru, _ = simplelru.NewLRU[attemptID, *attemptEntry](per, nil)
	}
	return a
}

func (a *attempts) shard(k attemptID) *attemptShard {
	return &a.shards[(uint64(k.t)^uint64(k.id[0])<<8^uint64(k.id[1]))%uint64(len(a.shards))]
}

// observe reports whether the attempt was seen within its window and, if
// so, copies its record into st; otherwise it remembers it from now on.
func (a *attempts) observe(k attemptID, now, window int64, st *engine.State) bool {
	sh := a.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.lru.Get(k); ok && now < e.expires {
		if st != nil {
			st.Replayed = true
			st.Decided = append(st.Decided[:0], e.record...)
		}
		return true
	}
	sh.lru.Add(k, &attemptEntry{expires: now + window})
	return false
}

// decided keeps the record of an attempt's decision.
func (a *attempts) decided(k attemptID, now, window int64, record []byte) {
	sh := a.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.lru.Add(k, &attemptEntry{expires: now + window, record: append([]byte(nil), record...)})
}
