package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/riskgate/riskgate/engine"
)

// What a decision implies (a login learned into its user's profile, a
// decision pending its outcome) and the reads of both.

// Commit implements engine.Store.
func (s *Store) Commit(ctx context.Context, c *engine.Commit) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	if d := c.Decided; d != nil && !d.AttemptID.IsZero() {
		s.attempts.decided(attemptID{s.tenant(d.Tenant), d.AttemptID}, d.User, now, int64(s.opts.AttemptWindow/time.Second), d.Record)
	}
	if l := c.Learn; l != nil && !l.User.IsZero() {
		th := s.tenant(l.Tenant)
		sh := s.shardFor(th, l.User)
		sc := scratchPool.Get().(*learnScratch)
		sh.mu.Lock()
		k := userID{th, l.User}
		h := k.hash()
		i := sh.profiles.find(&k, h)
		if i < 0 {
			i = sh.profiles.insert(&k, h)
		} else {
			sh.profiles.touch(i)
		}
		e := &sh.profiles.at(i).val
		p := &sc.p
		live := e.blob != nil && now-e.touched < int64(s.opts.ProfileTTL/time.Second)
		if o := c.Observed; live && o != nil && o.HasProfile && sameBlob(o.ProfileSource, e.blob) {
			// The profile Observe decoded for this login, still the one
			// stored (no other login of the user learned in between):
			// learn into it rather than decode the blob again.
			p = &o.Profile
			o.HasProfile, o.ProfileSource = false, nil
		} else if !live || decodeProfile(e.blob, p) != nil {
			resetProfile(p)
		}
		p.Learn(l)
		sc.buf = encodeProfile(sc.buf[:0], p)
		// make and copy, which the compiler turns into one uncleared
		// allocation of the length, where append took runtime.growslice's
		// way (its capacity rounded up to the same size class).
		e.blob = make([]byte, len(sc.buf))
		copy(e.blob, sc.buf)
		e.touched = now
		sh.mu.Unlock()
		resetProfile(p) // drop references into the old blob and the login
		scratchPool.Put(sc)
	}
	if p := c.Pending; p != nil {
		th := s.tenant(p.Event.Tenant)
		k := s.pendingKey(th, p.DecisionID)
		sh := s.shardForPending(&k)
		buf := formBufs.Get().(*[]byte)
		*buf = appendPending((*buf)[:0], th, p)
		sh.mu.Lock()
		sh.pending.Put(k, now+int64(s.opts.PendingTTL/time.Second), *buf)
		sh.mu.Unlock()
		formBufs.Put(buf)
	}
	return nil
}

// TakePending implements engine.Store.
func (s *Store) TakePending(ctx context.Context, tenant, decisionID string) (engine.Pending, bool, error) {
	if err := ctx.Err(); err != nil {
		return engine.Pending{}, false, err
	}
	k := s.pendingKey(s.tenant(tenant), decisionID)
	sh := s.shardForPending(&k)
	sh.mu.Lock()
	form, expires, ok := sh.pending.Take(nil, k)
	sh.mu.Unlock()
	if !ok || s.now() >= expires {
		return engine.Pending{}, false, nil
	}
	// The form is this call's own copy: the decoded strings point into it.
	var p engine.Pending
	if err := decodePending(form, &p); err != nil {
		return engine.Pending{}, false, fmt.Errorf("memstore: pending decision: %w", err)
	}
	if p.DecisionID != decisionID {
		return engine.Pending{}, false, nil // two ids of one key: odds of 2^-128
	}
	return p, true, nil
}

// formBufs are scratch buffers for encoding pending forms outside the
// lock; the queue copies them.
var formBufs = sync.Pool{New: func() any { return new([]byte) }}

// sameBlob reports whether a and b are the same stored blob (not merely
// equal bytes: a blob is never modified, so the same memory is the same
// profile).
func sameBlob(a, b []byte) bool {
	return len(a) == len(b) && len(a) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// learnScratch is a profile being learned into and its encoding.
type learnScratch struct {
	p   engine.Profile
	buf []byte
}

var scratchPool = sync.Pool{New: func() any { return new(learnScratch) }}

// resetProfile empties p, keeping its slices' capacity and dropping the
// strings they held (into an old blob, or a login's). It runs for every
// learned login, so it clears only the strings, field by field: clearing
// whole sets (runtime.memclrHasPointers per set) and building a new
// Profile to copy over p cost several times as much.
// TestResetEmptiesEveryField holds it to every field as fields are added.
func resetProfile(p *engine.Profile) {
	p.Logins, p.FirstSeen, p.LastSeen = 0, 0, 0
	p.Last = engine.LastLogin{}
	p.Hours = [24]uint32{}
	p.NewDevices, p.NoDevice = 0, 0
	p.Devices = dropValues(p.Devices)
	p.Agents = dropValues(p.Agents)
	p.Countries = dropValues(p.Countries)
	p.Cities = dropValues(p.Cities)
	p.ASNs = dropValues(p.ASNs)
	p.Networks = dropValues(p.Networks)
	p.ASNNetworks = dropValues(p.ASNNetworks)
	p.AgentVersions = dropValues(p.AgentVersions)
}

// dropValues empties set, dropping its strings: the rest of a member
// holds no pointer, and is overwritten before it is read again.
func dropValues(set []engine.Seen) []engine.Seen {
	for i := range set {
		set[i].Value = ""
	}
	return set[:0]
}

// Profile implements engine.Store.
func (s *Store) Profile(ctx context.Context, tenant string, user engine.Key) (engine.Profile, bool, error) {
	if err := ctx.Err(); err != nil {
		return engine.Profile{}, false, err
	}
	th := s.tenant(tenant)
	sh := s.shardFor(th, user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := userID{th, user}
	i := sh.profiles.find(&k, k.hash())
	if i < 0 {
		return engine.Profile{}, false, nil
	}
	e := &sh.profiles.at(i).val
	if s.now()-e.touched >= int64(s.opts.ProfileTTL/time.Second) {
		return engine.Profile{}, false, nil
	}
	var p engine.Profile
	if err := decodeProfile(e.blob, &p); err != nil {
		return engine.Profile{}, false, err
	}
	return p, true, nil
}
