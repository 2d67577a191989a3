package signals

import (
	"math"
	"sync"
	"sync/atomic"
)

func (r *RBA) population(tenant string, create bool) *population {
	pops := r.pops.Load()
	p, _ := pops.get(tenant)
	if p != nil || !create {
		if p == nil {
			p, _ = pops.get(overflowTenant)
		}
		return p
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pops = r.pops.Load()
	if p, _ = pops.get(tenant); p != nil {
		return p
	}
	if pops.len() >= maxTenantPopulations {
		tenant = overflowTenant
		if p, _ = pops.get(tenant); p != nil {
			return p
		}
	}
	p = newPopulation()
	r.pops.Store(pops.with(tenant, p))
	return p
}

// population counts feature values in a count-min sketch (conservative
// update), with exact totals per feature. Counters are atomics, so learning
// and scoring never wait for each other.
type population struct {
	// One array, not a slice per row: a cell's address is the base plus
	// its offset, with no slice header to load and no bounds to check.
	// The four cells of a value stay in four rows, four cache lines: a
	// value's cells in one line would correlate the rows' collisions, and
	// the estimates would no longer be a count-min sketch's.
	rows  [sketchDepth][sketchWidth]atomic.Uint32
	total [numFeatures]atomic.Uint64
	// newest is the newest major version of each browser among the
	// completed logins: what is current, so that a stuffing kit's stale
	// browser strings show their age. Copy on write: it changes once per
	// browser release, and every Score reads it.
	mu     sync.Mutex
	newest atomic.Pointer[index[uint16]]
}

// maxBrowsers bounds newest: browser names come from the user-agent
// classifier's short list.
const maxBrowsers = 64

func (p *population) newestVersion(browser string) uint16 {
	v, _ := p.newest.Load().get(browser)
	return v
}

func (p *population) sawVersion(browser string, v uint16) {
	if p.newestVersion(browser) >= v {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.newest.Load()
	if w, ok := old.get(browser); !ok && old.len() >= maxBrowsers || w >= v {
		return
	}
	p.newest.Store(old.with(browser, v))
}

const (
	sketchDepth = 4
	sketchWidth = 1 << 15 // 4 rows of 32768 counters: 512 KiB per tenant; error ≤ e/32768 of the total
)

func newPopulation() *population { return new(population) }

// cells are the counters of the value hashed to h: the 16-bit slices of
// one 64-bit hash, a column per row. Written out, not a loop: the compiler
// does not unroll, and the loop's shifts and index cost more than the
// loads.
func (p *population) cells(h uint64) [sketchDepth]*atomic.Uint32 {
	const mask = sketchWidth - 1
	return [sketchDepth]*atomic.Uint32{&p.rows[0][h&mask], &p.rows[1][h>>16&mask], &p.rows[2][h>>32&mask], &p.rows[3][h>>48&mask]}
}

func (p *population) count(h uint64) uint32 {
	c := p.cells(h)
	return min(c[0].Load(), c[1].Load(), c[2].Load(), c[3].Load())
}

func (p *population) add(k int, h uint64) {
	c := p.cells(h)
	s0, s1, s2, s3 := c[0].Load(), c[1].Load(), c[2].Load(), c[3].Load()
	m := min(s0, s1, s2, s3)
	if m == math.MaxUint32 {
		return
	}
	// Conservative update: raise only the counters at the minimum, which
	// keeps the overestimate of rare values small.
	raise(c[0], s0, m)
	raise(c[1], s1, m)
	raise(c[2], s2, m)
	raise(c[3], s3, m)
	p.total[k].Add(1)
}

// raise sets ctr to m+1 unless it is above m. seen, its value just read,
// serves the first try: counters only grow, so one above m then is above
// it now, and a stale one fails the swap and is read again.
func raise(ctr *atomic.Uint32, seen, m uint32) {
	for old := seen; old <= m && !ctr.CompareAndSwap(old, m+1); {
		old = ctr.Load()
	}
}

// p is the smoothed population probability of the value hashed to h of
// feature k.
func (p *population) p(k int, h uint64) float64 {
	return (float64(p.count(h)) + 0.5) / (float64(p.total[k].Load()) + 1)
}
