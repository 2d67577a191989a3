package alert

import (
	"fmt"
	"hash/maphash"
	"math"
	"sync/atomic"

	"github.com/riskgate/riskgate/engine"
)

// DefaultTenantShare is the share of each sink's queue, and of the held
// notifications, that one tenant may take while more than one tenant has
// alerted or notified.
const DefaultTenantShare = 0.5

// tenantSlots is how many tenants the shares count apart: past them (a
// node that has seen 1,023 tenants alert or notify since it started), the
// rest are counted together in slot 0, as one tenant.
const tenantSlots = 1024

// maxProbes bounds the search for a tenant's slot.
const maxProbes = 64

// tenantTable gives each tenant that alerts or notifies a slot, for the
// counts of its items held in the queues and the notification hold. A
// slot, once given, is the tenant's until the process ends. It takes no
// lock and allocates once per tenant, when the tenant is first seen: the
// dispatcher's Publish runs on the scoring path.
type tenantTable struct {
	seed  maphash.Seed
	names [tenantSlots]atomic.Pointer[string] // slot 0 is the overflow
	// multi: a second tenant has been seen; from then on, each tenant
	// is held to its share.
	multi atomic.Bool
	first atomic.Pointer[string]
}

func newTenantTable() *tenantTable { return &tenantTable{seed: maphash.MakeSeed()} }

func tenantOf(s string) string {
	if s == "" {
		return engine.DefaultTenant
	}
	return s
}

// slot returns tenant's slot, giving it one if it has none.
func (t *tenantTable) slot(tenant string) int {
	tenant = tenantOf(tenant)
	if f := t.first.Load(); f == nil {
		t.claim(&t.first, tenant)
	} else if !t.multi.Load() && *f != tenant {
		t.multi.Store(true)
	}
	h := maphash.String(t.seed, tenant)
	for i := range uint64(maxProbes) {
		s := int((h+i)%(tenantSlots-1)) + 1
		p := t.names[s].Load()
		if p == nil {
			if t.claim(&t.names[s], tenant) {
				return s
			}
			p = t.names[s].Load()
		}
		if *p == tenant {
			return s
		}
	}
	return 0
}

// claim sets an empty name to tenant, reporting whether it did. Apart
// from slot, so that only a tenant's first sighting allocates.
//
//go:noinline
func (t *tenantTable) claim(p *atomic.Pointer[string], tenant string) bool {
	return p.CompareAndSwap(nil, &tenant)
}

// find returns the slot of the tenant that the held form's leading
// string names (as slot gave it), without giving one.
func (t *tenantTable) find(tenant []byte) int {
	if len(tenant) == 0 {
		return t.slot("") // the default tenant's, given when it was counted
	}
	h := maphash.Bytes(t.seed, tenant)
	for i := range uint64(maxProbes) {
		s := int((h+i)%(tenantSlots-1)) + 1
		p := t.names[s].Load()
		if p == nil {
			return 0
		}
		if *p == string(tenant) {
			return s
		}
	}
	return 0
}

// name is the tenant of slot s, for the logs.
func (t *tenantTable) name(s int) string {
	if s == 0 {
		return fmt.Sprintf("(the tenants past the first %d)", tenantSlots-1)
	}
	if p := t.names[s].Load(); p != nil {
		return *p
	}
	return "?"
}

// shares counts, for one bounded resource (a sink's queue, the held
// notifications), the items each tenant holds in it, and refuses a
// tenant's new item once it holds limit while another tenant has been
// seen. Its dropped counts, by tenant, wait for the drop reporter.
type shares struct {
	tenants *tenantTable
	limit   int32
	n       [tenantSlots]atomic.Int32
	dropped [tenantSlots]atomic.Int32
}

// newShares returns the shares of a resource of capacity items, of which
// a tenant takes at most share; nil (no cap) when share is 1.
func newShares(t *tenantTable, share float64, capacity int) *shares {
	if share >= 1 {
		return nil
	}
	return &shares{tenants: t, limit: int32(max(1, math.Floor(share*float64(capacity))))}
}

// full reports whether tenant slot s holds its share, counting the item
// it would have added as dropped.
func (sh *shares) full(s int) bool {
	if !sh.over(s) {
		return false
	}
	sh.dropped[s].Add(1)
	return true
}

// over reports whether tenant slot s holds its share while another
// tenant has been seen.
func (sh *shares) over(s int) bool {
	return sh != nil && sh.tenants.multi.Load() && sh.n[s].Load() >= sh.limit
}

// add counts d items of tenant slot s in or out.
func (sh *shares) add(s int, d int32) {
	if sh != nil {
		sh.n[s].Add(d)
	}
}

// reportDropped calls f with each tenant whose items were refused since
// the last call, and how many.
func (sh *shares) reportDropped(f func(tenant string, n int32)) {
	if sh == nil {
		return
	}
	for s := range sh.dropped {
		if n := sh.dropped[s].Swap(0); n > 0 {
			f(sh.tenants.name(s), n)
		}
	}
}

// checkTenantShare refuses a share that is no fraction of (0, 1].
func checkTenantShare(share float64) error {
	if math.IsNaN(share) || share <= 0 || share > 1 {
		return fmt.Errorf("alert: tenant share (--alerts-tenant-share) %v: want a fraction over 0 and at most 1 (1: no per-tenant share)", share)
	}
	return nil
}

// reportShareDrops logs, by sink and tenant, the alerts and held
// notifications refused since the last report because their tenant held
// its share (at, when set, says when: "shutdown"). The scoring path only
// counts them.
func (d *Dispatcher) reportShareDrops(at string) {
	if d.tenants == nil {
		return
	}
	var tail []any
	if at != "" {
		tail = []any{"at", at}
	}
	for _, q := range d.queues {
		q.share.reportDropped(func(tenant string, n int32) {
			d.log.Warn("a tenant's share of the alert queue is full; its alerts dropped", append([]any{"sink", q.cfg.Sink.Name(), "tenant", tenant, "dropped", n, "share", d.opts.TenantShare, "limit", q.share.limit}, tail...)...)
		})
	}
	if d.notify != nil {
		d.notify.share.reportDropped(func(tenant string, n int32) {
			d.log.Warn("a tenant's share of the held notifications is full; its notifications dropped", append([]any{"tenant", tenant, "dropped", n, "share", d.opts.TenantShare, "limit", d.notify.share.limit}, tail...)...)
		})
	}
}
