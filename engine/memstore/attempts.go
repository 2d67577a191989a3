package memstore

import (
	"encoding/binary"
	"sync"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/heldqueue"
)

// attempts remember the attempt ids observed within the attempt window
// (Options.AttemptWindow), bounded by Options.MaxAttempts (oldest first
// out), with the decision committed for each: a redelivered attempt is
// read, not counted again, and gets its decision back
// (engine.State.Replayed, Decided). In memory, "any node" is this
// process. The records are in heldqueues, out of the collector's way, as
// pending decisions are (pending.go).
type attempts struct {
	shards [16]attemptShard
}

type attemptShard struct {
	mu sync.Mutex
	q  *heldqueue.Queue
}

type attemptID struct {
	t  tenantHash
	id engine.Key
}

// key is the attempt's key in its queue: the attempt id is keyed
// (engine.Keyer.Attempt), so mixing the tenant's hash into it keeps two
// tenants' attempts apart at odds of 2^-128.
func (k attemptID) key() heldqueue.Key {
	return queueKey(k.t, binary.LittleEndian.Uint64(k.id[:8]), binary.LittleEndian.Uint64(k.id[8:]))
}

func newAttempts(max int) *attempts {
	a := &attempts{}
	per := max/len(a.shards) + 1
	for i := range a.shards {
		a.shards[i].q = heldqueue.New(per)
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
	qk := k.key()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.q.Expire(now)
	var dst []byte
	if st != nil {
		dst = st.Decided[:0]
	}
	if rec, expires, ok := sh.q.Get(dst, qk); ok && now < expires {
		if st != nil {
			st.Replayed = true
			st.Decided = rec
		}
		return true
	}
	sh.q.Put(qk, now+window, nil)
	return false
}

// decided keeps the record of an attempt's decision.
func (a *attempts) decided(k attemptID, now, window int64, record []byte) {
	sh := a.shard(k)
	qk := k.key()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.q.Put(qk, now+window, record)
}
