package alert

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/heldqueue"
)

// Defaults for the notifications held until their login completes.
const (
	DefaultNotifyHoldTTL     = 30 * time.Minute // the stores' pending-decision TTL
	DefaultNotifyHoldEntries = 100_000
)

// notify publishes a decision's notification once its login completes:
// right away for a login allowed with the right password; for a step-up,
// or an allow scored before the password check, when the outcome that
// completes it is reported to this node (held until then, at most
// ttl and entries, the oldest dropped first).
type notify struct {
	// Held notifications, sharded by key so that a rebuild of one queue
	// (heldqueue) holds up few calls.
	shards  []heldShard
	ttl     time.Duration
	now     func() time.Time
	evicted func() // counts a held notification dropped unpublished
	entries int
	// share counts the held notifications by tenant and refuses a new
	// one past its tenant's share (nil: no per-tenant share);
	// shareDropped counts that refusal.
	share        *shares
	shareDropped func()
	lastSweep    atomic.Int64 // of expireAll, Unix nanoseconds
}

type heldShard struct {
	mu sync.Mutex
	// Records are the decision's action, then appendHeld's form, under
	// the notification's id in binary (notificationKey): no pointer for
	// the collector to follow in any of them.
	q *heldqueue.Queue
}

// heldBufs are scratch buffers for encoding held forms outside the lock.
var heldBufs = sync.Pool{New: func() any { return new([]byte) }}

// heldPerShard is about the most a shard holds: a queue's rebuild stays
// well under a millisecond.
const heldPerShard = 8192

func newNotify(ttl time.Duration, entries int, evicted func()) *notify {
	if ttl <= 0 {
		ttl = DefaultNotifyHoldTTL
	}
	if entries <= 0 {
		entries = DefaultNotifyHoldEntries
	}
	n := &notify{ttl: ttl, now: time.Now, evicted: evicted, entries: entries}
	// One shard when few are held, so that the bound is exact there.
	n.shards = make([]heldShard, min(16, (entries+heldPerShard-1)/heldPerShard))
	for i := range n.shards {
		n.shards[i].q = heldqueue.New((entries + len(n.shards) - 1) / len(n.shards))
	}
	return n
}

// shareOf holds each tenant to share of the held notifications, counting
// those it refuses with dropped.
func (x *notify) shareOf(t *tenantTable, share float64, dropped func()) {
	x.share, x.shareDropped = newShares(t, share, x.entries), dropped
}

// expireAll lets the expired notifications of every shard go, and
// reports whether it did: at most once a second (now, in Unix
// nanoseconds), since a tenant held to its share calls it with each
// notification it would hold.
func (x *notify) expireAll(now int64) bool {
	last := x.lastSweep.Load()
	if now-last < int64(time.Second) || !x.lastSweep.CompareAndSwap(last, now) {
		return false
	}
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		sh.q.ExpireFunc(now, x.release)
		sh.mu.Unlock()
	}
	return true
}

// release uncounts a held record (the decision's action, then its held
// form) from its tenant's share as it goes.
func (x *notify) release(rec []byte) {
	if len(rec) > 0 {
		x.share.add(x.share.tenants.find(heldTenant(rec[1:])), -1)
	}
}

func (x *notify) shard(k *heldqueue.Key) *heldShard {
	return &x.shards[binary.LittleEndian.Uint64(k[:8])%uint64(len(x.shards))]
}

// decided returns the notification to publish now, or holds it.
func (x *notify) decided(b *Builder, a *engine.Attempt, d *engine.Decision) *Notification {
	if len(d.Notify) == 0 || d.Signals.Attempt.UserID == "" || a.BeforePassword {
		// Before the password check, the Score after it notifies (or
		// holds) for the login.
		return nil
	}
	switch {
	case d.Action == engine.ActionAllow && a.Result == engine.ResultPasswordOK:
		return b.Notification(d, CompletedByPassword)
	case d.Action == engine.ActionAllow && a.Result == engine.ResultUnknown,
		d.Action == engine.ActionStepUp && !a.Result.Failed():
		n := b.notification(d, "")
		if n == nil {
			return nil
		}
		now := x.now().UnixNano()
		var slot int
		var release func([]byte)
		if x.share != nil {
			slot, release = x.share.tenants.slot(n.Tenant), x.release
			// Its expired notifications of other shards count until
			// they go: let them go first (at most once a second).
			if x.share.over(slot) && (!x.expireAll(now) || x.share.over(slot)) {
				// The tenant's flood is dropped, not the others'
				// held notifications.
				x.share.dropped[slot].Add(1)
				x.shareDropped()
				return nil
			}
		}
		buf := heldBufs.Get().(*[]byte)
		*buf = appendHeld(append((*buf)[:0], byte(d.Action)), n)
		k := heldqueue.Key(notificationKey(n.Tenant, n.DecisionID))
		sh := x.shard(&k)
		sh.mu.Lock()
		sh.q.ExpireFunc(now, release)
		held := sh.q.Has(k) // a retry's: replaced, counted already
		if release != nil && !held && sh.q.Len() >= sh.q.Max() {
			if old, ok := sh.q.Oldest(); ok {
				release(old) // Put drops it for room
			}
		}
		dropped := sh.q.Put(k, now+int64(x.ttl), *buf)
		if !held {
			x.share.add(slot, 1)
		}
		sh.mu.Unlock()
		heldBufs.Put(buf)
		if dropped > 0 {
			x.evicted()
		}
	}
	return nil
}

// reported returns the held notification an outcome completes, if any;
// an outcome that ends the login otherwise drops it.
func (x *notify) reported(o *engine.Outcome) *Notification {
	if o.DecisionID == "" {
		return nil
	}
	var completedBy string
	switch o.Outcome {
	case engine.LoginSucceeded:
		completedBy = CompletedByPassword
	case engine.StepUpPassed:
		completedBy = CompletedByStepUp
	case engine.LoginFailed, engine.StepUpFailed:
	default:
		return nil // analyst labels change nothing
	}
	tenant := o.Tenant
	if tenant == "" {
		tenant = engine.DefaultTenant
	}
	k := heldqueue.Key(notificationKey(tenant, o.DecisionID))
	sh := x.shard(&k)
	sh.mu.Lock()
	rec, expires, ok := sh.q.Take(nil, k)
	if ok && x.share != nil {
		x.share.add(x.share.tenants.slot(tenant), -1)
	}
	sh.mu.Unlock()
	if !ok || completedBy == "" || x.now().UnixNano() > expires || len(rec) == 0 {
		return nil
	}
	// The engine refuses login_succeeded for a step-up; this is a guard.
	// The other way round is a completed login: an allow scored before
	// the password check, reported step_up_passed by an identity server
	// that asked for a second factor of its own, is learned into the
	// baseline (the device is known from then on), so dropping its
	// notification here told the owner of that device never.
	if engine.Action(rec[0]) == engine.ActionStepUp && completedBy != CompletedByStepUp {
		return nil
	}
	n, ok := decodeHeld(rec[1:])
	if !ok || n.Tenant != tenant || n.DecisionID != o.DecisionID {
		return nil // a defect, not an input: the forms are this process's own
	}
	n.NotificationID = hex.EncodeToString(k[:])
	n.CompletedBy = completedBy
	return n
}

// forget drops the notifications held for tenant's user (Forget). It
// reads every held form of the tenant that holds the user id's bytes:
// an erasure, rare and an admin's, costs a pass over the held forms.
func (x *notify) forget(tenant, user string) {
	var keys []heldqueue.Key
	u := []byte(user)
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		keys = keys[:0]
		sh.q.Range(func(k heldqueue.Key, _ int64, rec []byte) bool {
			if len(rec) > 0 && bytes.Contains(rec, u) && heldUser(rec[1:], tenant, user) {
				keys = append(keys, k)
			}
			return true
		})
		for _, k := range keys {
			sh.q.Remove(k)
		}
		if len(keys) > 0 && x.share != nil {
			x.share.add(x.share.tenants.slot(tenant), -int32(len(keys)))
		}
		sh.mu.Unlock()
	}
}

// len is the number of notifications held.
func (x *notify) len() int {
	n := 0
	for i := range x.shards {
		sh := &x.shards[i]
		sh.mu.Lock()
		n += sh.q.Len()
		sh.mu.Unlock()
	}
	return n
}
