package engine

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// recentDecisions makes attempt_id an idempotency key: a retried Score
// (the identity server timed out and asked again) gets the decision it
// would have got the first time, and is not counted twice in the windows
// nor learned twice. It remembers the decisions of attempts that carried
// their own attempt_id, for a while and up to a bound.
//
// The memory is this process's, a fast path: a retry that reaches
// another node is recognised by the store (Event.AttemptID, below), which
// counts it once and keeps the decision for it. With a store other nodes
// share (SharedStore), a retry of a known user's attempt is observed in
// the store before the remembered decision is given: another node may
// have erased the user (Forget), which this memory would not know.
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
	mu  sync.Mutex
	lru *simplelru.LRU[recentKey, *recentDecision]
	// bytes is what the shard's decisions hold (decisionBytes), kept
	// under budget: a decision carries the attempt's own strings, which a
	// caller may make as large as a request allows.
	bytes, budget int
}

type recentKey struct {
	tenant, attemptID string
}

type recentDecision struct {
	d           Decision
	fingerprint uint64
	expires     time.Time
	size        int
}

func newRecentDecisions(entries, maxBytes int, ttl time.Duration) *recentDecisions {
	r := &recentDecisions{seed: maphash.MakeSeed(), ttl: ttl}
	per := max(1, entries/len(r.shards))
	for i := range r.shards {
		sh := &r.shards[i]
		sh.budget = max(1, maxBytes/len(r.shards))
		sh.lru, _ = simplelru.NewLRU(per, func(_ recentKey, e *recentDecision) { sh.bytes -= e.size })
	}
	return r
}

// decisionBytes bounds what a remembered decision holds: its own size
// and every string it refers to (shared ones, such as rule descriptions,
// counted as if they were not), plus the map and list bookkeeping.
func decisionBytes(k *recentKey, d *Decision) int {
	n := int(unsafe.Sizeof(recentDecision{})) + 200 + len(k.tenant) + len(k.attemptID)
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
	e := &d.Signals
	a := &e.Attempt
	for _, s := range [...]string{a.Tenant, a.UserID, a.Username, a.IP, a.UserAgent, a.Channel, a.Result,
		e.Device.Family, e.Device.Browser, e.Device.OS, e.Device.Type, e.Geo.Source, e.Geo.Country, e.Geo.Subdivision,
		e.Geo.City, e.Geo.PreviousCountry, e.IP.Class, e.Subnet.Prefix, e.ASN.Org, e.Password.Status} {
		n += len(s)
	}
	for k, v := range a.Attributes {
		n += 64 + len(k) + len(v)
	}
	for _, l := range e.IP.Lists {
		n += 16 + len(l)
	}
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
	if before := n.a.BeforePassword; e.fingerprint != r.fingerprint(n, before) {
		return Decision{}, false, reusedID(n, e.fingerprint == r.fingerprint(n, !before))
	}
	return e.d, true, nil
}

// put remembers d for the attempt. erasures is what r.erasures was before
// the Score read the store: when an erasure began since, d is not
// remembered. Checked under the shard's lock, which forget takes after
// counting itself, a decision is either checked before the count and
// then walked over by forget, or not remembered.
func (r *recentDecisions) put(n *normalized, d *Decision, now time.Time, erasures uint64) {
	k := recentKey{n.tenant, n.a.AttemptID}
	e := &recentDecision{d: *d, fingerprint: r.fingerprint(n, n.a.BeforePassword), expires: now.Add(r.ttl), size: decisionBytes(&k, d)}
	sh := r.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e.size > sh.budget {
		return // larger than the shard may hold: a retry of it is scored again
	}
	if r.erasures.Load() != erasures {
		return // decided across an erasure: a retry of it asks the store
	}
	sh.lru.Remove(k) // a replaced entry gives its bytes back
	sh.lru.Add(k, e)
	sh.bytes += e.size
	for sh.bytes > sh.budget {
		sh.lru.RemoveOldest()
	}
}

// drop forgets the decision remembered for the attempt, if any.
func (r *recentDecisions) drop(n *normalized) {
	k := recentKey{n.tenant, n.a.AttemptID}
	sh := r.shard(k)
	sh.mu.Lock()
	sh.lru.Remove(k)
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
		for _, k := range sh.lru.Keys() {
			if k.tenant != tenant {
				continue
			}
			if e, ok := sh.lru.Peek(k); ok && e.d.Signals.Attempt.UserID == userID {
				sh.lru.Remove(k)
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
