package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Tenant rates. Every attempt of a tenant counts in the tenant's attempt
// and failure windows; written through on every Score, that one key would
// take a script call per Score (and, on a cluster, every Score of the
// tenant would go to its node). A tenant-wide rate does not need
// per-Score freshness, so each Store (each scoring node) aggregates its
// increments, by minute, and sends them every TenantFlushInterval (200ms),
// riding in a Score's round trip, or in a background flush when no Score
// comes. The flush returns the tenant's state, which the node keeps as its
// view; a Score reads the view with the node's own increments since
// applied to it.
//
// So a node's counts include its own attempts at once, exactly, and other
// nodes' within about two flush intervals (theirs to send, ours to read
// back). The memory store's ring is applied on both sides, so the counts
// are the memory store's for the same events.

type tenantInc struct {
	series byte // 1 attempts, 2 failures
	minute int64
}

type tenantAgg struct {
	mu       sync.Mutex
	view     []byte // two short-spec rings: what the server has, plus pending and inflight
	pending  map[tenantInc]uint32
	inflight map[tenantInc]uint32 // sent, not yet answered
	flushing bool
	last     time.Time // last flush sent
	used     time.Time // last event
}

type tenants struct {
	mu       sync.Mutex
	m        map[string]*tenantAgg
	interval time.Duration
}

func (ts *tenants) init(interval time.Duration) {
	ts.m = make(map[string]*tenantAgg)
	ts.interval = interval
}

func (ts *tenants) get(tenant string) *tenantAgg {
	ts.mu.Lock()
	a := ts.m[tenant]
	if a == nil {
		a = &tenantAgg{view: make([]byte, 2*ringSize(&shortSpec)), pending: map[tenantInc]uint32{}, inflight: map[tenantInc]uint32{}}
		ts.m[tenant] = a
	}
	ts.mu.Unlock()
	return a
}

// tenantFlush is a flush riding in a request: the aggregate and its item.
type tenantFlush struct {
	agg  *tenantAgg
	item int
}

// flushItem adds tenant's flush to r when one is due (force: whatever is
// pending, or a first read of the tenant's state).
func (ts *tenants) flushItem(r *request, s *Store, tenant string, now time.Time, force bool) (tenantFlush, bool) {
	a := ts.get(tenant)
	a.mu.Lock()
	defer a.mu.Unlock()
	first := a.last.IsZero()
	if a.flushing || !first && !force && (len(a.pending) == 0 || now.Sub(a.last) < ts.interval) {
		return tenantFlush{}, false
	}
	if !first && len(a.pending) == 0 {
		return tenantFlush{}, false
	}
	a.flushing, a.last = true, now
	r.add(kindTenant, s.keys.tenant(tenant, sufWindows))
	r.u16(uint16(len(a.pending)))
	for k, n := range a.pending {
		r.u8(k.series)
		r.u32(unixU32(k.minute * 60))
		r.u32(n)
		a.inflight[k] += n
	}
	clear(a.pending)
	return tenantFlush{agg: a, item: r.end()}, true
}

// flushed takes a flush's answer: the server's state becomes the view,
// with what is still pending applied on top. A failed flush's increments
// are lost (they may have been applied: a retry could count them twice).
func (ts *tenants) flushed(r *request, tf tenantFlush, ok bool) {
	a := tf.agg
	a.mu.Lock()
	defer a.mu.Unlock()
	a.flushing = false
	clear(a.inflight)
	if !ok {
		return
	}
	it := &r.items[tf.item]
	res := it.res
	if it.err != nil || len(res) < 2 {
		return
	}
	res = res[1:] // the flag of an event written in place: none here
	if res[0]&flagRings == 0 {
		clear(a.view)
	} else if len(res) == 1+len(a.view) {
		copy(a.view, res[1:])
	} else {
		return
	}
	for k, n := range a.pending {
		a.apply(k, n)
	}
}

func (a *tenantAgg) apply(k tenantInc, n uint32) {
	rs := ringSize(&shortSpec)
	ring := a.view[int(k.series-1)*rs : int(k.series)*rs]
	ringAdd(ring, &shortSpec, k.minute*60, n)
}

// add counts ev in its tenant's view and, when c is not nil, reads the
// tenant's counts at ev's time.
func (ts *tenants) add(ev *engine.Event, c *engine.Counts, now time.Time) bool {
	a := ts.get(ev.Tenant)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.used = now
	t := ev.Time.Unix()
	m := t / 60
	if ev.Attempt {
		k := tenantInc{1, m}
		a.pending[k]++
		a.apply(k, 1)
	}
	if ev.Failed {
		k := tenantInc{2, m}
		a.pending[k]++
		a.apply(k, 1)
	}
	if c != nil {
		rs := ringSize(&shortSpec)
		ringSum(a.view[:rs], &shortSpec, t, &c.TenantAttempts)
		ringSum(a.view[rs:], &shortSpec, t, &c.TenantFailures)
	}
	return len(a.pending) > 0
}

// due lists the tenants whose increments have waited a flush interval, and
// forgets those idle for a day with nothing to send.
func (ts *tenants) due(now time.Time) []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []string
	for name, a := range ts.m {
		a.mu.Lock()
		switch {
		case len(a.pending) > 0 && !a.flushing && now.Sub(a.last) >= ts.interval:
			out = append(out, name)
		case len(a.pending) == 0 && !a.flushing && now.Sub(a.used) > 24*time.Hour:
			delete(ts.m, name)
		}
		a.mu.Unlock()
	}
	return out
}

// flushTenants sends the due tenants' increments (all pending when all).
func (s *Store) flushTenants(ctx context.Context, all bool) error {
	var names []string
	if all {
		s.tenants.mu.Lock()
		for name := range s.tenants.m {
			names = append(names, name)
		}
		s.tenants.mu.Unlock()
	} else {
		names = s.tenants.due(time.Now())
	}
	if len(names) == 0 {
		return nil
	}
	r := getRequest()
	defer putRequest(r)
	var fs []tenantFlush
	now := time.Now()
	for _, name := range names {
		if tf, ok := s.tenants.flushItem(r, s, name, now, true); ok {
			fs = append(fs, tf)
		}
	}
	err := s.run(ctx, r, nil)
	for _, tf := range fs {
		s.tenants.flushed(r, tf, err == nil)
	}
	return err
}
