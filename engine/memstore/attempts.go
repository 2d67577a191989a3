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
//
// Each record begins with a flags byte. attOwned: the attempt's user
// follows (its tenant's hash, 8 bytes, and its key, 16), so that Forget
// can find the user's attempts, then the decision's record (empty until
// one is committed). attErased: the user was erased (Forget), and nothing
// follows: the id is still remembered, so a redelivery is not counted
// again, but holds nothing of the attempt, and no decision committed
// after the erasure is kept. Forget walks every record (erasure is rare,
// and an index by user would cost every Score a map entry); the 25 bytes
// of owner are all a Score pays.
type attempts struct {
	shards [16]attemptShard
}

// The flags of a record's first byte.
const (
	attOwned  = 1
	attErased = 2
)

// ownerLen is the bytes of a record's owner: a tenant hash and a user key.
const ownerLen = 8 + len(engine.Key{})

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

// appendHeader appends a record's flags and, for a known user, its owner.
func appendHeader(b []byte, t tenantHash, user engine.Key) []byte {
	if user.IsZero() {
		return append(b, 0)
	}
	b = append(b, attOwned)
	b = binary.LittleEndian.AppendUint64(b, uint64(t))
	return append(b, user[:]...)
}

// headerLen is the bytes of rec's header: its flags and owner.
func headerLen(rec []byte) int {
	switch {
	case len(rec) == 0:
		return 0
	case rec[0]&attOwned != 0 && len(rec) >= 1+ownerLen:
		return 1 + ownerLen
	}
	return 1
}

// observe reports whether the attempt was seen within its window and, if
// so, copies its record into st; otherwise it remembers it from now on,
// as the attempt of user (zero: of no known user).
func (a *attempts) observe(k attemptID, user engine.Key, now, window int64, st *engine.State) bool {
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
			if len(rec) > 0 && rec[0]&attErased != 0 {
				st.Erased = true
				st.Decided = rec[:0]
			} else {
				st.Decided = rec[:copy(rec, rec[headerLen(rec):])]
			}
		}
		return true
	}
	var hdr [1 + ownerLen]byte
	sh.q.Put(qk, now+window, appendHeader(hdr[:0], k.t, user))
	return false
}

// decided keeps the record of an attempt's decision, unless the attempt's
// user was erased since it was observed. The record keeps the attempt's
// owner: user, or when zero the one its observation noted. A mark (a
// record of engine.MinRecord bytes) is kept only where the attempt is
// remembered with no record yet: a decision recreates a record the queue
// lost, a mark must not, or the attempt would read as counted.
func (a *attempts) decided(k attemptID, user engine.Key, now, window int64, record []byte) {
	sh := a.shard(k)
	qk := k.key()
	buf := formBufs.Get().(*[]byte)
	defer formBufs.Put(buf)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	// The record held so far is its header alone, unless a decision was
	// committed already (an outcome's, then the Score's): room for it on
	// the stack.
	var held [64]byte
	cur, expires, ok := sh.q.Get(held[:0], qk)
	if ok && now >= expires {
		cur = nil
	}
	if len(record) <= engine.MinRecord && (!ok || len(cur) == 0 || len(cur) > headerLen(cur)) {
		return // a mark: not for an attempt forgotten, or one with a record
	}
	b := (*buf)[:0]
	switch {
	case len(cur) > 0 && cur[0]&attErased != 0:
		return // erased with its user: nothing of it is kept
	case !user.IsZero():
		b = appendHeader(b, k.t, user)
	case headerLen(cur) > 1:
		b = append(b, cur[:1+ownerLen]...)
	default:
		b = append(b, 0)
	}
	b = append(b, record...)
	*buf = b
	sh.q.Put(qk, now+window, b)
}

// forget erases the records of the attempts of user in tenant t: each
// becomes the mark of an erased attempt, until its window ends.
func (a *attempts) forget(t tenantHash, user engine.Key, now int64) {
	var owner [1 + ownerLen]byte
	want := appendHeader(owner[:0], t, user)
	type found struct {
		key     heldqueue.Key
		expires int64
	}
	var gone []found
	erased := []byte{attErased}
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		gone = gone[:0]
		sh.q.Range(func(key heldqueue.Key, expires int64, rec []byte) bool {
			if expires > now && len(rec) >= len(want) && string(rec[:len(want)]) == string(want) {
				gone = append(gone, found{key, expires})
			}
			return true
		})
		for _, g := range gone {
			sh.q.Put(g.key, g.expires, erased)
		}
		sh.mu.Unlock()
	}
}
