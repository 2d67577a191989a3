package signals

// The RBA signal as it was before the per-Score cost work (issue 15), kept
// as the model the differential tests compare the signal with: a maphash
// of (feature, text) per value, strings built for the ASN and the subnet,
// a CAS loop that reloads. Only the doc comments are shortened.

import (
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/riskgate/riskgate/engine"
)

type modelRBA struct {
	Alpha float64
	seed  maphash.Seed
	// pops maps tenants to their populations, copied on write (a new
	// tenant, rare): every Score reads it twice, and a read-write mutex's
	// reader count is a cache line every core writes.
	pops atomic.Pointer[map[string]*modelPopulation]
	mu   sync.Mutex // serialises writers of pops
}

// newModelRBA is NewRBA of the model.
func newModelRBA(alpha float64) *modelRBA {
	if alpha <= 0 {
		alpha = 1
	}
	r := &modelRBA{Alpha: alpha, seed: maphash.MakeSeed()}
	r.pops.Store(&map[string]*modelPopulation{})
	return r
}

func (*modelRBA) Name() string { return "rba" }

func (r *modelRBA) Compute(in *engine.Input, env *engine.Env) error {
	pop := r.population(in.Tenant, false)
	if a := &in.Agent; pop != nil && a.Version != 0 {
		if newest := pop.newestVersion(a.Browser); newest > a.Version {
			env.Device.Outdated = int(newest - a.Version)
		}
	}
	if !env.User.Known {
		return nil
	}
	p := &in.State.Profile
	// The feature values are built in a stack buffer; the strings never
	// leave this function, so they stay on the stack too.
	var vals [numFeatures]string
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
	x := &env.RBA
	terms := [numFeatures]*float64{featASN: &x.ASN, featCountry: &x.Country, featBrowser: &x.Browser, featOS: &x.OS}
	// The ASN's population share and the user's logins on it serve the
	// network's term too.
	var asnP float64
	var asnLogins uint64
	for k := featASN; k < numFeatures; k++ {
		v := vals[k]
		if v == "" {
			continue
		}
		c, n := modelUserCount(p, k, v)
		if n == 0 {
			continue // the user has no history for this feature
		}
		pv := r.p(pop, k, v)
		if k == featASN {
			asnP, asnLogins = pv, c
		}
		puv := (float64(c) + r.Alpha*pv) / (float64(n) + r.Alpha)
		*terms[k] = math.Log10(pv / puv)
	}
	x.Network = math.Log10(r.networkRatio(pop, p, in.SubnetText, vals[featASN], asnP, asnLogins))
	x.Device = math.Log10(modelDeviceRatio(p, env.Device.IDPresent, env.Device.Known))
	x.Hour = math.Log10(modelHourRatio(p, env.Attempt.Hour))
	x.Available = true
	x.Score = x.ASN + x.Network + x.Country + x.Browser + x.OS + x.Device + x.Hour
	// A targeted attacker copies the ASN, country, browser and OS; what
	// is left to tell them from the user is what cannot be copied.
	x.Targeted = x.Network + x.Device + x.Hour
	return nil
}

// p is the population probability of (k, v), 0.5 when there is no
// population yet.
func (r *modelRBA) p(pop *modelPopulation, k int, v string) float64 {
	if pop == nil {
		return 0.5
	}
	return pop.p(r.seed, k, v)
}

// networkRatio is the network's term: given the ASN when the user has
// logged in on it (see RBA), nothing more when the ASN is new for the user
// (the ASN's term already counts it), and the plain smoothed ratio when no
// ASN is known.
// asnP and na are the ASN's population share and the user's logins on it.
func (r *modelRBA) networkRatio(pop *modelPopulation, p *engine.Profile, subnet, asn string, asnP float64, na uint64) float64 {
	if subnet == "" || len(p.Networks) == 0 {
		return 1
	}
	if asn == "" || len(p.ASNs) == 0 {
		cv, n := modelUserCount(p, featNetwork, subnet)
		pv := r.p(pop, featNetwork, subnet)
		return pv / ((float64(cv) + r.Alpha*pv) / (float64(n) + r.Alpha))
	}
	if na == 0 {
		return 1
	}
	cv, _ := modelUserCount(p, featNetwork, subnet)
	ta := uint64(1) // a profile from before the counts: one subnet at least
	for i := range p.ASNNetworks {
		if p.ASNNetworks[i].Value == asn {
			ta = max(ta, uint64(p.ASNNetworks[i].Count))
		}
	}
	if cv == 0 {
		return float64(na+ta) / float64(ta)
	}
	// The attacker's chance of this subnet among the ASN's.
	within := min(1, r.p(pop, featNetwork, subnet)/asnP)
	return within / (float64(min(cv, na)) / float64(na+ta))
}

// deviceRatio is the device's term: known, new or absent.
func modelDeviceRatio(p *engine.Profile, present, known bool) float64 {
	n := float64(p.Logins)
	if n == 0 {
		return 1
	}
	newer := float64(max(p.NewDevices, uint32(len(p.Devices))))
	none := float64(p.NoDevice)
	if p.NewDevices == 0 && p.NoDevice == 0 {
		// A profile from before the counts: the logins its devices do
		// not account for had none.
		var withID uint64
		for i := range p.Devices {
			withID += uint64(p.Devices[i].Count)
		}
		none = max(0, n-float64(withID))
	}
	var c, usual, attack float64
	switch {
	case !present:
		c, usual, attack = none, usualNoDevice, attackNoDevice
	case known:
		c, usual, attack = max(0, n-newer-none), usualKnownDevice, attackKnownDevice
	default:
		c, usual, attack = newer, usualNewDevice, attackNewDevice
	}
	return attack / ((c + deviceSmoothing*usual) / (n + deviceSmoothing))
}

// hourRatio is the hour's term: the user's share of logins in this hour
// and its neighbours against any hour.
func modelHourRatio(p *engine.Profile, h int) float64 {
	if h < 0 || h > 23 {
		return 1
	}
	var total uint64
	for _, n := range p.Hours {
		total += uint64(n)
	}
	if total == 0 {
		return 1
	}
	near := uint64(p.Hours[(h+23)%24]) + uint64(p.Hours[h]) + uint64(p.Hours[(h+1)%24])
	return hourWindow / ((float64(near) + hourSmoothing*hourWindow) / (float64(total) + hourSmoothing))
}

// userCount returns how often the user completed a login with value v of
// feature k, and how many logins have that feature at all. Browser and OS
// are read from the stored families ("browser/os").
func modelUserCount(p *engine.Profile, k int, v string) (c, n uint64) {
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
func (r *modelRBA) Learned(l *engine.Login) {
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
		if l.AgentVersion != 0 {
			// A variable of its own: passing vals' element would make
			// the whole array escape, and the network's string with it.
			browser, _, _ := strings.Cut(l.Agent, "/")
			pop.sawVersion(browser, l.AgentVersion)
		}
	}
	for k, v := range vals {
		if v != "" {
			pop.add(r.seed, k, v)
		}
	}
}

func (r *modelRBA) population(tenant string, create bool) *modelPopulation {
	pops := *r.pops.Load()
	p := pops[tenant]
	if p != nil || !create {
		if p == nil {
			p = pops[overflowTenant]
		}
		return p
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pops = *r.pops.Load()
	if p = pops[tenant]; p != nil {
		return p
	}
	if len(pops) >= maxTenantPopulations {
		tenant = overflowTenant
		if p = pops[tenant]; p != nil {
			return p
		}
	}
	p = newModelPopulation()
	next := make(map[string]*modelPopulation, len(pops)+1)
	for k, v := range pops {
		next[k] = v
	}
	next[strings.Clone(tenant)] = p
	r.pops.Store(&next)
	return p
}

// population counts feature values in a count-min sketch (conservative
// update), with exact totals per feature. Counters are atomics, so learning
// and scoring never wait for each other.
type modelPopulation struct {
	rows  [sketchDepth][]atomic.Uint32
	total [numFeatures]atomic.Uint64
	// newest is the newest major version of each browser among the
	// completed logins: what is current, so that a stuffing kit's stale
	// browser strings show their age. Copy on write: it changes once per
	// browser release, and every Score reads it.
	mu     sync.Mutex
	newest atomic.Pointer[map[string]uint16]
}

func (p *modelPopulation) newestVersion(browser string) uint16 {
	if m := p.newest.Load(); m != nil {
		return (*m)[browser]
	}
	return 0
}

func (p *modelPopulation) sawVersion(browser string, v uint16) {
	if p.newestVersion(browser) >= v {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := map[string]uint16{}
	if m := p.newest.Load(); m != nil {
		old = *m
	}
	if _, ok := old[browser]; !ok && len(old) >= maxBrowsers || old[browser] >= v {
		return
	}
	m := make(map[string]uint16, len(old)+1)
	for k, x := range old {
		m[k] = x
	}
	m[strings.Clone(browser)] = v
	p.newest.Store(&m)
}

func newModelPopulation() *modelPopulation {
	p := &modelPopulation{}
	for i := range p.rows {
		p.rows[i] = make([]atomic.Uint32, sketchWidth)
	}
	return p
}

// cells are the counters of (k, v): four 16-bit slices of one 64-bit hash.
func modelCells(seed maphash.Seed, k int, v string) [sketchDepth]uint32 {
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

func (p *modelPopulation) count(c *[sketchDepth]uint32) uint32 {
	m := uint32(math.MaxUint32)
	for i := range c {
		m = min(m, p.rows[i][c[i]].Load())
	}
	return m
}

func (p *modelPopulation) add(seed maphash.Seed, k int, v string) {
	p.addCells(k, modelCells(seed, k, v))
}

// addCells is the model's conservative update of given cells, for the
// sketch's differential test.
func (p *modelPopulation) addCells(k int, c [sketchDepth]uint32) {
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
func (p *modelPopulation) p(seed maphash.Seed, k int, v string) float64 {
	c := modelCells(seed, k, v)
	return (float64(p.count(&c)) + 0.5) / (float64(p.total[k].Load()) + 1)
}
