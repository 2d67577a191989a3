package alert

import (
	"encoding/hex"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/riskgate/riskgate/engine"
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
	mu      sync.Mutex
	held    *simplelru.LRU[heldKey, heldNote]
	ttl     time.Duration
	now     func() time.Time
	evicted func() // counts a held notification dropped unpublished
}

// heldBufs are scratch buffers for encoding held forms outside the lock,
// each copied to a form of its exact size.
var heldBufs = sync.Pool{New: func() any { return new([]byte) }}

// heldKey is the held notification's id in binary (notificationKey): no
// pointers for the collector to follow, unlike the tenant and decision id
// strings it stands for.
type heldKey [16]byte

type heldNote struct {
	form    []byte // appendHeld's
	action  engine.Action
	expires int64 // Unix nanoseconds
}

func newNotify(ttl time.Duration, entries int, evicted func()) *notify {
	if ttl <= 0 {
		ttl = DefaultNotifyHoldTTL
	}
	if entries <= 0 {
		entries = DefaultNotifyHoldEntries
	}
	n := &notify{ttl: ttl, now: time.Now, evicted: evicted}
	n.held, _ = simplelru.NewLRU[heldKey, heldNote](entries, nil)
	return n
}

// decided returns the notification to publish now, or holds it.
func (x *notify) decided(b *Builder, a *engine.Attempt, d *engine.Decision) *Notification {
	if len(d.Notify) == 0 || d.Signals.Attempt.UserID == "" {
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
		buf := heldBufs.Get().(*[]byte)
		*buf = appendHeld((*buf)[:0], n)
		form := make([]byte, len(*buf))
		copy(form, *buf)
		heldBufs.Put(buf)
		x.mu.Lock()
		dropped := x.held.Add(notificationKey(n.Tenant, n.DecisionID), heldNote{form: form, action: d.Action, expires: x.now().Add(x.ttl).UnixNano()})
		x.mu.Unlock()
		if dropped {
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
	k := heldKey(notificationKey(tenant, o.DecisionID))
	x.mu.Lock()
	h, ok := x.held.Peek(k)
	if ok {
		x.held.Remove(k)
	}
	x.mu.Unlock()
	if !ok || completedBy == "" || x.now().UnixNano() > h.expires {
		return nil
	}
	// The engine refuses login_succeeded for a step-up; this is a guard.
	if (h.action == engine.ActionStepUp) != (completedBy == CompletedByStepUp) {
		return nil
	}
	n, ok := decodeHeld(h.form)
	if !ok || n.Tenant != tenant || n.DecisionID != o.DecisionID {
		return nil // a defect, not an input: the forms are this process's own
	}
	n.NotificationID = hex.EncodeToString(k[:])
	n.CompletedBy = completedBy
	return n
}

// len is the number of notifications held.
func (x *notify) len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.held.Len()
}
