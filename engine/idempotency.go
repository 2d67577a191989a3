package engine

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// recentDecisions makes attempt_id an idempotency key: a retried Score
// (the identity server timed out and asked again) gets the decision it
// would have got the first time, and is not counted twice in the windows
// nor learned twice. It remembers the decisions of attempts that carried
// their own attempt_id, for a while and up to a bound.
//
// The memory is this process's: a retry that reaches another node is
// recognised by the store (Event.AttemptID, below), which counts it once
// and keeps the decision for it. A retry this memory knows is observed in
// the store all the same, before the remembered decision is given: the
// store does not count it again, the signals are read as they are now
// (as on another node), and the store says whether the user was erased
// (Forget, maybe served by another node, which this memory would not
// know). What the memory adds to the store's record: the decision when
// the store is unavailable or has lost the attempt, without decoding.
type recentDecisions struct {
	seed   maphash.Seed
	ttl    time.Duration
	shards [16]recentShard
	// erasures counts the forget calls begun: a Score that read the
	// store before one began remembers nothing (put), since what it read
	// may be what the erasure erased.
	erasures atomic.Uint64
}

type recentShard struct {
	mu sync.Mutex
	// ring holds the decisions in the order they were put, the oldest at
	// tail: a FIFO, not an LRU, since a retry comes once or twice and
	// needs no promotion. Slots are values, so that remembering a
	// decision allocates nothing once the ring has grown (a 1.2 KB
	// object and a list element a Score with an attempt_id, before).
	// A dropped or forgotten decision leaves a hole (size 0) until the
	// tail passes it or the ring is compacted.
	ring    []recentDecision
	tail, n int // n slots in use from tail, holes included
	holes   int
	limit   int // entries: the ring grows to at most this many slots
	index   map[recentKey]int32
	// bytes is what the shard holds, kept under budget: its ring's slots,
	// live or not, and what its decisions refer to beyond their slot
	// (decisionBytes less slotBytes). A decision carries the attempt's
	// own strings, which a caller may make as large as a request allows;
	// and a ring grown for many small decisions keeps its slots when
	// large ones come.
	bytes, budget int
	// evicted counts the decisions dropped for room before they expired
	// (RetryStats): each is a retry that will be scored again.
	evicted uint64
}

type recentKey struct {
	tenant, attemptID string
}

type recentDecision struct {
	key         recentKey
	d           retryDecision
	fingerprint uint64
	expires     time.Time
	size        int // 0 for a hole
}

// retryDecision is what a retry is answered with: its first decision,
// without the signals, which are read again (as on any node; see
// Engine.score). A Decision's signals are five sixths of its size, and a
// slot a Score with an attempt_id writes; a server measured 7 µs a call
// less with them gone from the rings (benchmarks/README.md).
type retryDecision struct {
	DecisionID, AttemptID, Tenant string
	Time                          time.Time
	Action                        Action
	Score                         int
	Reasons, Shadow               []Reason
	Alert                         bool
	Notify                        []string
	RulesVersion                  string
	// user is the attempt's user id: Forget of the user drops it.
	user string
}

func retryOf(d *Decision) retryDecision {
	return retryDecision{
		DecisionID: d.DecisionID, AttemptID: d.AttemptID, Tenant: d.Tenant, Time: d.Time, Action: d.Action, Score: d.Score,
		Reasons: d.Reasons, Shadow: d.Shadow, Alert: d.Alert, Notify: d.Notify, RulesVersion: d.RulesVersion,
		user: d.Signals.Attempt.UserID,
	}
}

// decision is the decision with signals env.
func (r *retryDecision) decision(env *Env) Decision {
	return Decision{
		DecisionID: r.DecisionID, AttemptID: r.AttemptID, Tenant: r.Tenant, Time: r.Time, Action: r.Action, Score: r.Score,
		Reasons: r.Reasons, Shadow: r.Shadow, Alert: r.Alert, Notify: r.Notify, Signals: *env, RulesVersion: r.RulesVersion,
	}
}

func newRecentDecisions(entries, maxBytes int, ttl time.Duration) *recentDecisions {
	r := &recentDecisions{seed: maphash.MakeSeed(), ttl: ttl}
	per := max(1, entries/len(r.shards))
	for i := range r.shards {
		sh := &r.shards[i]
		sh.budget = max(1, maxBytes/len(r.shards))
		sh.limit = per
		sh.index = make(map[recentKey]int32)
	}
	return r
}

// slotBytes is the memory of one slot of a ring, a decision in it or not,
// with its share of the index: a map holds as many entries as the ring
// has slots, and keeps its size when they go (about 80 bytes an entry
// at its fullest, key, value and control bytes, before it grows again).
const slotBytes = int(unsafe.Sizeof(recentDecision{})) + 80

// slot is the ring's i-th slot from the tail.
func (sh *recentShard) slot(i int) int { return (sh.tail + i) % len(sh.ring) }

// kill makes the slot at pos a hole, releasing what it referred to.
func (sh *recentShard) kill(pos int32) {
	e := &sh.ring[pos]
	delete(sh.index, e.key)
	sh.bytes -= e.size - slotBytes // the slot stays, as a hole
	*e = recentDecision{}
	sh.holes++
	sh.trim()
}

// trim drops the holes at both ends of the ring.
func (sh *recentShard) trim() {
	for sh.n > 0 && sh.ring[sh.tail].size == 0 {
		sh.tail = (sh.tail + 1) % len(sh.ring)
		sh.n--
		sh.holes--
	}
	for sh.n > 0 && sh.ring[sh.slot(sh.n-1)].size == 0 {
		sh.n--
		sh.holes--
	}
}

// evictOldest drops the oldest decision, counting it as evicted unless it
// had expired by now anyway.
func (sh *recentShard) evictOldest(now time.Time) {
	if now.Before(sh.ring[sh.tail].expires) {
		sh.evicted++
	}
	sh.kill(int32(sh.tail))
}

// room makes a free slot at the head and returns it. A full ring
// (decisions and holes) half holes is compacted; one with fewer holes
// grows, to twice its size at most, as far as its limit (entries) and the
// budget (a slot is memory, a decision in it or not) allow; else its
// oldest decision is evicted. need is what the decision to be put there
// holds beyond its slot.
func (sh *recentShard) room(need int, now time.Time) int32 {
	if sh.n == len(sh.ring) { // n <= len(ring) <= limit: full at the limit too
		size := min(sh.limit, max(8, 2*len(sh.ring)), len(sh.ring)+max(0, (sh.budget-sh.bytes-need)/slotBytes))
		if sh.holes > 0 && sh.holes >= sh.n/2 {
			size = len(sh.ring)
		} else if size == len(sh.ring) {
			sh.evictOldest(now)
			size = 0
		}
		if size > 0 {
			// Copy the decisions, oldest first, into the new ring.
			ring := make([]recentDecision, size)
			j := 0
			for i := range sh.n {
				if e := &sh.ring[sh.slot(i)]; e.size > 0 {
					ring[j] = *e
					sh.index[e.key] = int32(j)
					j++
				}
			}
			sh.bytes += (size - len(sh.ring)) * slotBytes
			sh.ring, sh.tail, sh.n, sh.holes = ring, 0, j, 0
		}
	}
	pos := sh.slot(sh.n)
	sh.n++
	return int32(pos)
}

// decisionBytes bounds what a remembered decision holds: its own size
// and every string it refers to (shared ones, such as rule descriptions,
// counted as if they were not), plus the index's bookkeeping; slotBytes
// of it is its slot. Its signals are not kept (retryDecision).
func decisionBytes(k *recentKey, d *Decision) int {
	n := slotBytes + 200 + len(k.tenant) + len(k.attemptID)
	n += len(d.DecisionID) + len(d.AttemptID) + len(d.Tenant) + len(d.RulesVersion)
	for _, rs := range [2][]Reason{d.Reasons, d.Shadow} {
		for i := range rs {
			n += int(unsafe.Sizeof(rs[i])) + len(rs[i].RuleID) + len(rs[i].Message)
			for _, t := range rs[i].Tags {
				n += 16 + len(t)
			}
		}
	}
	for _, k := range d.Notify {
		n += 16 + len(k)
	}
	n += len(d.Signals.Attempt.UserID)
	return n
}

func (r *recentDecisions) shard(k recentKey) *recentShard {
	return &r.shards[maphash.Comparable(r.seed, k)%uint64(len(r.shards))]
}

// fingerprint identifies what the attempt says, so that an attempt_id
// reused for a different attempt is refused rather than answered with
// someone else's decision. before is the attempt's BeforePassword: a
// Score marked so holds nothing for an outcome, and one not marked does,
// so the two are different requests however alike their attempts (see
// reusedID).
func (r *recentDecisions) fingerprint(n *normalized, before bool) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	a := n.a
	for _, s := range [...]string{a.UserID, n.username, a.IP, a.DeviceID, a.UserAgent, a.PasswordSHA1, a.Channel} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	h.WriteByte(byte(a.Result))
	if before {
		h.WriteString(beforePasswordMark)
	}
	return h.Sum64()
}

// beforePasswordMark ends the retry cache's fingerprint of a Score marked
// BeforePassword. The store's record keeps the mark apart from its
// fingerprint (keptDecision).
const beforePasswordMark = "\x00before_password"

// reusedID is the error of an attempt_id already used for an attempt
// that differs from n's. When only the BeforePassword mark differs
// (otherFP: the retry cache's fingerprint with the mark flipped matches,
// or the store's record is of the same attempt with the other mark), it
// says so: a Score marked before_password resent unmarked under its id
// was answered with the marked decision, which holds nothing for an
// outcome, so the outcome the caller then reported was a 404 and the
// notification held for it lost. Refused, as a retry that changed its
// result is: a retry is the request it retries, and a new decision is
// asked for under an id of its own.
func reusedID(n *normalized, otherFP bool) error {
	if !otherFP {
		return fieldErr("attempt_id", "already used for a different attempt")
	}
	first := "with before_password, which holds nothing for an outcome"
	if n.a.BeforePassword {
		first = "without before_password, which awaits its outcome"
	}
	return fieldErr("attempt_id", "already used for this attempt scored %s: a retry is sent as the first Score was, and the Score after the password check takes an attempt_id of its own", first)
}

// get returns the decision already made for the attempt, if any. ok is
// false when the attempt is new; err is set when the id was used before
// for a different attempt.
func (r *recentDecisions) get(n *normalized, now time.Time) (d retryDecision, ok bool, err error) {
	k := recentKey{n.tenant, n.a.AttemptID}
	sh := r.shard(k)
	sh.mu.Lock()
	pos, found := sh.index[k]
	var fp uint64
	if found {
		if e := &sh.ring[pos]; now.After(e.expires) {
			sh.kill(pos)
			found = false
		} else {
			d, fp = e.d, e.fingerprint
		}
	}
	sh.mu.Unlock()
	if !found {
		return retryDecision{}, false, nil
	}
	if before := n.a.BeforePassword; fp != r.fingerprint(n, before) {
		return retryDecision{}, false, reusedID(n, fp == r.fingerprint(n, !before))
	}
	return d, true, nil
}

// put remembers d for the attempt. erasures is what r.erasures was before
// the Score read the store: when an erasure began since, d is not
// remembered. Checked under the shard's lock, which forget takes after
// counting itself, a decision is either checked before the count and
// then walked over by forget, or not remembered.
func (r *recentDecisions) put(n *normalized, d *Decision, now time.Time, erasures uint64) {
	k := recentKey{n.tenant, n.a.AttemptID}
	fp, size := r.fingerprint(n, n.a.BeforePassword), decisionBytes(&k, d)
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if size > sh.budget {
		return // larger than the shard may hold: a retry of it is scored again
	}
	if r.erasures.Load() != erasures {
		return // decided across an erasure: a retry of it asks the store
	}
	if pos, ok := sh.index[k]; ok {
		sh.kill(pos) // a replaced entry gives its bytes back
	}
	need := size - slotBytes // what it holds beyond a slot
	for sh.n > 0 && sh.bytes+need > sh.budget {
		sh.evictOldest(now)
	}
	if sh.bytes+need > sh.budget {
		// Empty, and its slots alone leave no room for the decision:
		// the ring starts again, as small as it began.
		sh.ring, sh.tail, sh.holes, sh.bytes = nil, 0, 0, 0
	}
	pos := sh.room(need, now)
	e := &sh.ring[pos]
	e.key, e.d, e.fingerprint, e.expires, e.size = k, retryOf(d), fp, now.Add(r.ttl), size
	sh.index[k] = pos
	sh.bytes += need
}

// RetryStats is what the decisions a node remembers for retries hold
// (Options.RetryEntries): they are the engine's own memory, beside the
// store's, and their evictions are retries that will be scored again.
type RetryStats struct {
	Entries, MaxEntries int    // decisions held, and the bound on them
	Bytes, MaxBytes     int    // what they hold (decisionBytes), and the bound on it
	Evicted             uint64 // dropped for room before they expired
}

// RetryStats says what the retry cache holds; false when the engine keeps
// none (Options.RetryEntries negative).
func (e *Engine) RetryStats() (RetryStats, bool) {
	if e.recent == nil {
		return RetryStats{}, false
	}
	var st RetryStats
	for i := range e.recent.shards {
		sh := &e.recent.shards[i]
		sh.mu.Lock()
		st.Entries += len(sh.index)
		st.MaxEntries += sh.limit
		st.Bytes += sh.bytes
		st.MaxBytes += sh.budget
		st.Evicted += sh.evicted
		sh.mu.Unlock()
	}
	return st, true
}

// drop forgets the decision remembered for the attempt, if any.
func (r *recentDecisions) drop(n *normalized) {
	k := recentKey{n.tenant, n.a.AttemptID}
	sh := r.shard(k)
	sh.mu.Lock()
	if pos, ok := sh.index[k]; ok {
		sh.kill(pos)
	}
	sh.mu.Unlock()
}

// forget drops the remembered decisions of a user's attempts. A retry
// after the user's erasure must not be answered with anything read from
// the erased profile (known devices, login counts, the last location, or
// reasons that quote them): it goes to the store, which still recognises
// the attempt (it is not counted again) but has erased its decision with
// the user (State.Erased), and is decided afresh on the state as it is
// now. Every shard is walked: erasure is rare, and a retry cache has no
// index by user.
//
// The store's erasure (Store.Forget) comes first: a Score that read the
// store before it may still be deciding, and put checks the count this
// adds to.
func (r *recentDecisions) forget(tenant, userID string) {
	r.erasures.Add(1)
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for j := 0; j < sh.n; j++ {
			pos := sh.slot(j)
			if e := &sh.ring[pos]; e.size > 0 && e.key.tenant == tenant && e.d.user == userID {
				sh.kill(int32(pos))
				if j == 0 {
					j-- // the tail's kill moved the tail past it (trim): slot 0 is the next
				}
			}
		}
		sh.mu.Unlock()
	}
}

// Across nodes, attempt_id is an idempotency key through the store: an
// Event carries the keyed attempt_id, the store counts it once within its
// attempt window and tells a redelivery apart (State.Replayed), and the
// decision is kept there (Commit.Decided) for the node that sees the
// redelivery. The record is a keyed fingerprint of what the attempt says,
// then the decision without its signals, as JSON: a redelivery gets the
// first decision (its id, action, score, reasons), with the signals as
// they are when it is read again.
//
// Forget of the attempt's user (Event.User; an attempt without a user id
// belongs to no user) erases the record, and the store keeps only the
// attempt id's mark (State.Erased) for the rest of the window: a
// redelivery is still counted once, but is decided afresh on the state as
// it is now, with no consequences (score). With the record the
// fingerprint goes too, so an id reused after the erasure for another
// attempt is no longer refused: it is taken for the erased one.

// fingerprintLen is the bytes of fingerprint in front of a record.
const fingerprintLen = 8

// attemptFingerprint is recentDecisions.fingerprint without the
// BeforePassword mark, keyed with the store's secret so that every node
// computes the same, nodes of earlier versions included: they share the
// store through a rolling upgrade, and computed it without the mark for
// a marked Score too. The mark is kept in the record (keptDecision).
//
// s.record holds what is keyed meanwhile, so that fingerprinting an
// attempt allocates nothing.
func (e *Engine) attemptFingerprint(s *scratch) [fingerprintLen]byte {
	n := &s.n
	a := n.a
	b := append(s.record[:0], "\x01fingerprint"...)
	for _, s := range [...]string{a.UserID, n.username, a.IP, a.DeviceID, a.UserAgent, a.PasswordSHA1, a.Channel} {
		b = append(b, 0)
		b = append(b, s...)
	}
	b = append(b, 0, byte(a.Result))
	s.record = b
	k := e.opts.Keyer.key(domainAttempt, n.tenant, "", b)
	clear(b) // the password's hash is in it, and the buffer is pooled
	var fp [fingerprintLen]byte
	copy(fp[:], k[:])
	return fp
}

// keptDecision is a record's JSON: the decision without its signals, and
// whether its Score was marked BeforePassword. The mark is a field of its
// own rather than part of the fingerprint, which it was: nodes of the
// version before it read the decision and ignore the field, so a retry
// of a marked Score reaching a node of either version during a rolling
// upgrade got a 400 on attempt_id from the other's record.
type keptDecision struct {
	Decision
	// BeforePassword is nil in the records of nodes of earlier versions,
	// which do not say: a retry marked either way takes their decision.
	BeforePassword *bool `json:"before_password"`
}

// decidedRecord encodes d for Commit.Decided, in s.record: the store
// copies what it keeps (Store.Commit).
func (e *Engine) decidedRecord(s *scratch, d *Decision) []byte {
	fp := e.attemptFingerprint(s)
	b, ok := appendKept(append(s.record[:0], fp[:]...), d, s.n.a.BeforePassword)
	if !ok {
		return nil // a time RFC 3339 cannot hold: nothing is kept, as json.Marshal failed
	}
	if cap(b) <= maxScratchRecord {
		s.record = b
	}
	return b
}

// maxScratchRecord bounds the record buffer a pooled scratch keeps: one
// decision with many long reasons must not pin its size in every
// scratch it passed through.
const maxScratchRecord = 16 << 10

// redecided returns the decision the store kept for a redelivered
// attempt, with the signals just computed. ok is false when the record
// cannot be read (the attempt is then decided again); err is set when
// the attempt_id was used for a different attempt.
func (e *Engine) redecided(s *scratch) (d Decision, ok bool, err error) {
	rec := s.state.Decided
	if len(rec) <= fingerprintLen {
		return Decision{}, false, nil
	}
	if fp := e.attemptFingerprint(s); !bytes.Equal(fp[:], rec[:fingerprintLen]) {
		return Decision{}, false, reusedID(&s.n, false)
	}
	var kept keptDecision
	if err := json.Unmarshal(rec[fingerprintLen:], &kept); err != nil || kept.DecisionID == "" {
		e.opts.Logger.Warn("engine: a stored decision could not be read; the redelivered attempt is decided again", "err", err)
		return Decision{}, false, nil
	}
	if kept.BeforePassword != nil && *kept.BeforePassword != s.n.a.BeforePassword {
		return Decision{}, false, reusedID(&s.n, true)
	}
	d = kept.Decision
	d.Signals = s.env
	if d.Reasons == nil {
		d.Reasons = []Reason{}
	}
	return d, true, nil
}
