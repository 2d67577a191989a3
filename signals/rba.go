package signals

import (
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/riskgate/riskgate/engine"
)

// RBA is the statistical risk score of Freeman et al., "Who Are You? A
// Statistical Approach to Measuring User Authenticity" (NDSS 2016), the
// model behind the das-group rba-algorithm and the RBA deployments studied
// by Wiefling et al. For each feature k of the attempt it compares how
// likely the value is in the whole population (the paper's stand-in for
// the attacker) with how likely it is for this user:
//
//	score = Σ_k log10( p(x_k) / p(x_k | u) )
//
// p(x_k | u) comes from the user's baseline, smoothed towards the
// population so that a value never seen for the user is neither impossible
// nor free (Dirichlet smoothing with weight Alpha):
//
//	p(v | u) = (c_u(v) + Alpha·p(v)) / (n_u + Alpha)
//
// and p(v) = (C(v) + 0.5) / (N + 1) from population counts of completed
// logins. A value the user never used thus scores log10((n_u+Alpha)/Alpha)
// whatever its popularity, and a value the user always uses scores about
// log10(p(v)): the rarer it is in the population, the more it vouches for
// the user. A score at or below 0 means the attempt looks like the user;
// each +1 means the attempt's features are ten times likelier for the
// population (an attacker) than for this user. Features the attempt lacks
// (no ASN, no user agent) or the user has no history of are left out. The
// attacker prior p(u|attack)/p(u|legit) of the paper is taken as 1: the
// attack-window signals cover targeted users.
//
// The features are the paper's: from the address, its network (the /24 or
// /48, where the paper has the address itself: riskgate keeps no full
// address in a profile), its ASN and its country; from the user agent, the
// browser and the operating system. The product over features assumes
// them independent given the user, so a feature that is a function of
// others must not be counted besides them: the browser family
// ("chrome/windows", what profiles store as the user agent) is exactly
// browser and OS together, and the device type follows from the OS, so
// counting them as well would count one new browser on a new OS four
// times. On the simulated traffic of benchmarks/quality, leaving them out
// raised the score's AUC for targeted takeovers from 0.950–0.958 to
// 0.956–0.966 (three seeds). The das-group code smooths the hierarchies
// IP → ASN → country and user agent → browser → OS → type by a weighted
// mixture of the levels instead; on the same traffic that variant
// separated takeovers less well (AUC 0.89–0.92), because a country match
// then outweighs a new network and ASN.
//
// Population counts are kept per tenant in a count-min sketch in this
// process, learned from the logins this node completes: each scoring node
// sees a random share of the population, which is all the statistic needs,
// and nothing about individuals is stored. They start empty at each start.
type RBA struct {
	Alpha float64
	seed  maphash.Seed
	mu    sync.RWMutex
	pops  map[string]*population
}

// NewRBA returns the RBA signal. alpha <= 0 takes the default 1.
func NewRBA(alpha float64) *RBA {
	if alpha <= 0 {
		alpha = 1
	}
	return &RBA{Alpha: alpha, seed: maphash.MakeSeed(), pops: map[string]*population{}}
}

// Features of the model, in a fixed order.
const (
	featNetwork = iota
	featASN
	featCountry
	featBrowser
	featOS
	numFeatures
)

// maxTenantPopulations bounds memory: tenants past it share one population.
const maxTenantPopulations = 64

const overflowTenant = "\x00other"

func (*RBA) Name() string { return "rba" }

func (r *RBA) Compute(in *engine.Input, env *engine.Env) error {
	if !env.User.Known {
		return nil
	}
	pop := r.population(in.Tenant, false)
	p := &in.State.Profile
	// The feature values are built in a stack buffer; the strings never
	// leave this function, so they stay on the stack too.
	var vals [numFeatures]string
	vals[featNetwork] = in.SubnetText
	var buf [20]byte
	if in.Enrichment.Network.ASN != 0 {
		vals[featASN] = string(strconv.AppendUint(buf[:0], uint64(in.Enrichment.Network.ASN), 10))
	}
	if l := &in.Enrichment.Location; l.Known {
		vals[featCountry] = l.Country
	}
	if a := &in.Agent; a.Family != "" {
		vals[featBrowser], vals[featOS] = a.Browser, a.OS
	}
	// The ratios are multiplied and the logarithm taken once. Each lies
	// between p(v) >= 0.5/(N+1) and (n+Alpha)/Alpha, within 1e-10..1e10 for
	// any realistic N and n, so five of them stay far inside float64's range.
	ratio := 1.0
	for k, v := range vals {
		if v == "" {
			continue
		}
		c, n := userCount(p, k, v)
		if n == 0 {
			continue // the user has no history for this feature
		}
		pv := 0.5
		if pop != nil {
			pv = pop.p(r.seed, k, v)
		}
		puv := (float64(c) + r.Alpha*pv) / (float64(n) + r.Alpha)
		ratio *= pv / puv
	}
	env.RBA.Available = true
	env.RBA.Score = math.Log10(ratio)
	return nil
}

// userCount returns how often the user completed a login with value v of
// feature k, and how many logins have that feature at all. Browser and OS
// are read from the stored families ("browser/os").
func userCount(p *engine.Profile, k int, v string) (c, n uint64) {
	var set []engine.Seen
	switch k {
	case featNetwork:
		set = p.Networks
	case featASN:
		set = p.ASNs
	case featCountry:
		set = p.Countries
	default:
		set = p.Agents
	}
	for i := range set {
		s := &set[i]
		n += uint64(s.Count)
		var match bool
		switch k {
		case featBrowser:
			b, _, _ := strings.Cut(s.Value, "/")
			match = b == v
		case featOS:
			_, o, _ := strings.Cut(s.Value, "/")
			match = o == v
		default:
			match = s.Value == v
		}
		if match {
			c += uint64(s.Count)
		}
	}
	return c, n
}

// Learned adds a completed login to the tenant's population counts.
func (r *RBA) Learned(l *engine.Login) {
	pop := r.population(l.Tenant, true)
	var vals [numFeatures]string
	var buf [64]byte
	b := buf[:0]
	if l.Subnet.IsValid() {
		b = l.Subnet.AppendTo(b)
		vals[featNetwork] = string(b)
	}
	if l.ASN != 0 {
		n := len(b)
		b = strconv.AppendUint(b, uint64(l.ASN), 10)
		vals[featASN] = string(b[n:])
	}
	vals[featCountry] = l.Country
	if l.Agent != "" {
		vals[featBrowser], vals[featOS], _ = strings.Cut(l.Agent, "/")
	}
	for k, v := range vals {
		if v != "" {
			pop.add(r.seed, k, v)
		}
	}
}

func (r *RBA) population(tenant string, create bool) *population {
	r.mu.RLock()
	p := r.pops[tenant]
	r.mu.RUnlock()
	if p != nil || !create {
		if p == nil {
			r.mu.RLock()
			p = r.pops[overflowTenant]
			r.mu.RUnlock()
		}
		return p
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p = r.pops[tenant]; p != nil {
		return p
	}
	if len(r.pops) >= maxTenantPopulations {
		tenant = overflowTenant
		if p = r.pops[tenant]; p != nil {
			return p
		}
	}
	p = newPopulation()
	r.pops[tenant] = p
	return p
}

// population counts feature values in a count-min sketch (conservative
// update), with exact totals per feature. Counters are atomics, so learning
// and scoring never wait for each other.
type population struct {
	rows  [sketchDepth][]atomic.Uint32
	total [numFeatures]atomic.Uint64
}

const (
	sketchDepth = 4
	sketchWidth = 1 << 15 // 4 rows of 32768 counters: 512 KiB per tenant; error ≤ e/32768 of the total
)

func newPopulation() *population {
	p := &population{}
	for i := range p.rows {
		p.rows[i] = make([]atomic.Uint32, sketchWidth)
	}
	return p
}

// cells are the counters of (k, v): four 16-bit slices of one 64-bit hash.
func cells(seed maphash.Seed, k int, v string) [sketchDepth]uint32 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteByte(byte(k))
	h.WriteString(v)
	x := h.Sum64()
	var c [sketchDepth]uint32
	for i := range c {
		c[i] = uint32(x>>(16*i)) & (sketchWidth - 1)
	}
	return c
}

func (p *population) count(c *[sketchDepth]uint32) uint32 {
	m := uint32(math.MaxUint32)
	for i := range c {
		m = min(m, p.rows[i][c[i]].Load())
	}
	return m
}

func (p *population) add(seed maphash.Seed, k int, v string) {
	c := cells(seed, k, v)
	m := p.count(&c)
	if m == math.MaxUint32 {
		return
	}
	// Conservative update: raise only the counters at the minimum, which
	// keeps the overestimate of rare values small.
	for i := range c {
		ctr := &p.rows[i][c[i]]
		for {
			old := ctr.Load()
			if old > m || ctr.CompareAndSwap(old, m+1) {
				break
			}
		}
	}
	p.total[k].Add(1)
}

// p is the smoothed population probability of (k, v).
func (p *population) p(seed maphash.Seed, k int, v string) float64 {
	c := cells(seed, k, v)
	return (float64(p.count(&c)) + 0.5) / (float64(p.total[k].Load()) + 1)
}
