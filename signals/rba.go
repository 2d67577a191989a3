package signals

import (
	"hash/maphash"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/riskgate/riskgate/engine"
)

// RBA is the statistical risk score of Freeman et al., "Who Are You? A
// Statistical Approach to Measuring User Authenticity" (NDSS 2016), the
// model behind the das-group rba-algorithm and the RBA deployments studied
// by Wiefling et al. For each feature k of the attempt it compares how
// likely the value is for an attacker with how likely it is for this user:
//
//	score = Σ_k log10( p_attacker(x_k) / p(x_k | u) )
//
// A score at or below 0 means the attempt looks like the user; each +1
// means its features are ten times likelier for an attacker than for this
// user. Features the attempt lacks (no ASN, no user agent) or the user has
// no history of are left out. The attacker prior p(u|attack)/p(u|legit) of
// the paper is taken as 1: the attack-window signals cover targeted users.
//
// Value features: the ASN, the country, the browser and the operating
// system. As in the paper, an attacker's value is drawn like anyone's, so
// p_attacker is the population's p(v) = (C(v) + 0.5) / (N + 1), from counts
// of completed logins, and the user's is smoothed towards it (Dirichlet,
// weight Alpha): p(v | u) = (c_u(v) + Alpha·p(v)) / (n_u + Alpha). The
// browser family ("chrome/windows") is browser and OS together and the
// device type follows from the OS, so neither is counted besides them.
//
// The network (the /24 or /48: riskgate keeps no full address) is scored
// given the ASN, by the chain rule, so that it does not count the ASN
// twice: p(net, asn | u) = p(asn | u) · p(net | asn, u). Within an ASN the
// user knows, p(net | asn, u) is smoothed by Witten-Bell: the chance of a
// subnet never seen is the share of the user's logins on that ASN that
// came from a new subnet, T_a / (n_a + T_a). A home line keeps its subnet
// for weeks, so a new one there is rare and weighs; a mobile carrier gives
// a new address every session, so a new one there weighs nothing. This is
// what tells a residential proxy on the victim's own ISP from the victim.
// A seen subnet scores its population share within the ASN against the
// user's: a household's /24 vouches more than an office's.
//
// Features relative to the user, whose values are not drawn from a
// population (no attacker shares the victim's device cookie), take an
// explicit attacker distribution instead and the user's own frequencies,
// smoothed towards ordinary users':
//
//   - the device: known, new, or none (no device id). Attackers present a
//     new device 80% of the time, none 15%, a stolen cookie 5%; ordinary
//     logins are 93% known devices, 5% new, 2% without an id. The user's
//     counts are how many completed logins were on a device new then, or
//     without one.
//   - the hour of day: attackers come at any hour (3/24 for an hour and
//     its neighbours); the user's share of logins in those three hours,
//     smoothed with weight 4.
//
// On the simulator's traffic (benchmarks/quality, seeds 1–5 at three
// sizes), adding the device, the hour and the network-within-ASN raised
// the worst run's AUC of the score for targeted takeovers from 0.951–0.978
// to 0.990–0.998; docs/detection.md has the figures. Targeted holds the
// terms a targeted attacker cannot copy (network, device, hour).
//
// Population counts are kept per tenant in a count-min sketch in this
// process, learned from the logins this node completes: each scoring node
// sees a random share of the population, which is all the statistic needs,
// and nothing about individuals is stored. They start empty at each start.
type RBA struct {
	Alpha float64
	// seeds hash each feature's values into the sketch: a seed per
	// feature keeps the features apart without writing the feature into
	// every hash.
	seeds [numFeatures]maphash.Seed
	// pops maps tenants to their populations, copied on write (a new
	// tenant, rare): every Score reads it twice, and a read-write mutex's
	// reader count is a cache line every core writes.
	pops atomic.Pointer[index[*population]]
	mu   sync.Mutex // serialises writers of pops
}

// NewRBA returns the RBA signal. alpha <= 0 takes the default 1.
func NewRBA(alpha float64) *RBA {
	if alpha <= 0 {
		alpha = 1
	}
	r := &RBA{Alpha: alpha}
	for k := range r.seeds {
		r.seeds[k] = maphash.MakeSeed()
	}
	return r
}

// Features of the population model, in a fixed order.
const (
	featNetwork = iota
	featASN
	featCountry
	featBrowser
	featOS
	numFeatures
)

// The attacker and ordinary-user models of the relative features.
const (
	attackKnownDevice = 0.05 // an infostealer's stolen cookie
	attackNewDevice   = 0.80
	attackNoDevice    = 0.15
	usualKnownDevice  = 0.93
	usualNewDevice    = 0.05
	usualNoDevice     = 0.02
	deviceSmoothing   = 2
	hourWindow        = 3.0 / 24 // the hour and its two neighbours
	hourSmoothing     = 4
)

// maxTenantPopulations bounds memory: tenants past it share one population.
const maxTenantPopulations = 64

const overflowTenant = "\x00other"

func (*RBA) Name() string { return "rba" }

func (r *RBA) Compute(in *engine.Input, env *engine.Env) error {
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
	x := &env.RBA
	// The ASN's population share and the user's logins on it serve the
	// network's term too.
	asn := in.Enrichment.Network.ASN
	var asnP float64
	var asnLogins uint64
	if asn != 0 {
		if c, n := asnCount(p.ASNs, asn); n != 0 {
			asnP, asnLogins = r.p(pop, featASN, r.asnHash(asn)), c
			x.ASN = r.term(asnP, c, n)
		}
	}
	if l := &in.Enrichment.Location; l.Known && l.Country != "" {
		if c, n := userCount(p.Countries, l.Country); n != 0 {
			x.Country = r.term(r.p(pop, featCountry, r.stringHash(featCountry, l.Country)), c, n)
		}
	}
	if a := &in.Agent; a.Family != "" && (a.Browser != "" || a.OS != "") {
		// One pass over the stored families for both halves.
		cb, co, n := agentCounts(p.Agents, a.Browser, a.OS)
		if n != 0 {
			if a.Browser != "" {
				x.Browser = r.term(r.p(pop, featBrowser, r.stringHash(featBrowser, a.Browser)), cb, n)
			}
			if a.OS != "" {
				x.OS = r.term(r.p(pop, featOS, r.stringHash(featOS, a.OS)), co, n)
			}
		}
	}
	x.Network = log10(r.networkRatio(pop, p, in.SubnetText, in.Subnet, asn, asnP, asnLogins))
	x.Device = log10(deviceRatio(p, env.Device.IDPresent, env.Device.Known))
	x.Hour = log10(hourRatio(p, env.Attempt.Hour))
	x.Available = true
	x.Score = x.ASN + x.Network + x.Country + x.Browser + x.OS + x.Device + x.Hour
	// A targeted attacker copies the ASN, country, browser and OS; what
	// is left to tell them from the user is what cannot be copied.
	x.Targeted = x.Network + x.Device + x.Hour
	return nil
}

// term is a value feature's term: the population's share pv against the
// user's c of n logins, smoothed towards it.
func (r *RBA) term(pv float64, c, n uint64) float64 {
	puv := (float64(c) + r.Alpha*pv) / (float64(n) + r.Alpha)
	return math.Log10(pv / puv)
}

// log10 skips math.Log10 for the neutral ratio, common for the network
// (a new ASN) and a user without hours: math.Log10(1) is +0 exactly.
func log10(v float64) float64 {
	if v == 1 {
		return 0
	}
	return math.Log10(v)
}

// p is the population probability of the value hashed to h of feature k,
// 0.5 when there is no population yet.
func (r *RBA) p(pop *population, k int, h uint64) float64 {
	if pop == nil {
		return 0.5
	}
	return pop.p(k, h)
}

// networkRatio is the network's term: given the ASN when the user has
// logged in on it (see RBA), nothing more when the ASN is new for the user
// (the ASN's term already counts it), and the plain smoothed ratio when no
// ASN is known. subnet is the text the profile stores, prefix what the
// sketch hashes.
// asnP and na are the ASN's population share and the user's logins on it.
func (r *RBA) networkRatio(pop *population, p *engine.Profile, subnet string, prefix netip.Prefix, asn uint32, asnP float64, na uint64) float64 {
	if subnet == "" || len(p.Networks) == 0 {
		return 1
	}
	if asn == 0 || len(p.ASNs) == 0 {
		cv, n := userCount(p.Networks, subnet)
		pv := r.pNetwork(pop, prefix)
		return pv / ((float64(cv) + r.Alpha*pv) / (float64(n) + r.Alpha))
	}
	if na == 0 {
		return 1
	}
	cv, _ := userCount(p.Networks, subnet)
	ta := uint64(1) // a profile from before the counts: one subnet at least
	for i := range p.ASNNetworks {
		if isDecimal(p.ASNNetworks[i].Value, asn) {
			ta = max(ta, uint64(p.ASNNetworks[i].Count))
		}
	}
	if cv == 0 {
		return float64(na+ta) / float64(ta)
	}
	// The attacker's chance of this subnet among the ASN's.
	within := min(1, r.pNetwork(pop, prefix)/asnP)
	return within / (float64(min(cv, na)) / float64(na+ta))
}

// pNetwork is p of a subnet. Learned skips an invalid one, so its count is
// 0 (the engine gives an invalid subnet no text anyway).
func (r *RBA) pNetwork(pop *population, prefix netip.Prefix) float64 {
	if pop == nil {
		return 0.5
	}
	if !prefix.IsValid() {
		return 0.5 / (float64(pop.total[featNetwork].Load()) + 1)
	}
	return pop.p(featNetwork, r.prefixHash(prefix))
}

// deviceRatio is the device's term: known, new or absent.
func deviceRatio(p *engine.Profile, present, known bool) float64 {
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
func hourRatio(p *engine.Profile, h int) float64 {
	if h < 0 || h > 23 {
		return 1
	}
	// Four hours a step: the loop's counter and branch cost as much as
	// the additions (Go does not unroll).
	var total uint64
	hs := &p.Hours
	for i := 0; i < len(hs); i += 4 {
		total += uint64(hs[i]) + uint64(hs[i+1]) + uint64(hs[i+2]) + uint64(hs[i+3])
	}
	if total == 0 {
		return 1
	}
	near := uint64(p.Hours[(h+23)%24]) + uint64(p.Hours[h]) + uint64(p.Hours[(h+1)%24])
	return hourWindow / ((float64(near) + hourSmoothing*hourWindow) / (float64(total) + hourSmoothing))
}

// userCount returns how often the user completed a login with value v
// among set, and how many logins set counts at all.
func userCount(set []engine.Seen, v string) (c, n uint64) {
	for i := range set {
		s := &set[i]
		n += uint64(s.Count)
		if s.Value == v {
			c += uint64(s.Count)
		}
	}
	return c, n
}

// asnCount is userCount of an ASN, read from the stored decimal text
// without formatting the ASN.
func asnCount(set []engine.Seen, asn uint32) (c, n uint64) {
	for i := range set {
		s := &set[i]
		n += uint64(s.Count)
		if isDecimal(s.Value, asn) {
			c += uint64(s.Count)
		}
	}
	return c, n
}

// isDecimal reports whether s is strconv's text of v: digits only, no
// leading zero, the same value.
func isDecimal(s string, v uint32) bool {
	if len(s) == 0 || len(s) > 10 || s[0] == '0' && len(s) > 1 {
		return false
	}
	var x uint64 // ten digits fit
	for i := range len(s) {
		d := s[i] - '0'
		if d > 9 {
			return false
		}
		x = x*10 + uint64(d)
	}
	return x == uint64(v)
}

// agentCounts is userCount of the browser and of the OS, read from the
// stored families ("browser/os"): a family without "/" is all browser.
func agentCounts(set []engine.Seen, browser, os string) (cb, co, n uint64) {
	for i := range set {
		s := &set[i]
		n += uint64(s.Count)
		b, o := s.Value, ""
		if j := strings.IndexByte(b, '/'); j >= 0 {
			b, o = b[:j], b[j+1:]
		}
		if b == browser {
			cb += uint64(s.Count)
		}
		if o == os {
			co += uint64(s.Count)
		}
	}
	return cb, co, n
}

// Learned adds a completed login to the tenant's population counts.
func (r *RBA) Learned(l *engine.Login) {
	pop := r.population(l.Tenant, true)
	// In feature order, as conservative updates of colliding values
	// depend on it.
	if l.Subnet.IsValid() {
		pop.add(featNetwork, r.prefixHash(l.Subnet))
	}
	if l.ASN != 0 {
		pop.add(featASN, r.asnHash(l.ASN))
	}
	if l.Country != "" {
		pop.add(featCountry, r.stringHash(featCountry, l.Country))
	}
	if l.Agent != "" {
		browser, os := l.Agent, ""
		if j := strings.IndexByte(browser, '/'); j >= 0 {
			browser, os = browser[:j], browser[j+1:]
		}
		if l.AgentVersion != 0 {
			pop.sawVersion(browser, l.AgentVersion)
		}
		if browser != "" {
			pop.add(featBrowser, r.stringHash(featBrowser, browser))
		}
		if os != "" {
			pop.add(featOS, r.stringHash(featOS, os))
		}
	}
}

// The sketch's keys. The ASN and the subnet are hashed in binary: the same
// values as their text, without formatting it at each login. The keys of
// different features never meet, each having its seed.

func (r *RBA) stringHash(k int, v string) uint64 { return maphash.String(r.seeds[k], v) }

func (r *RBA) asnHash(asn uint32) uint64 {
	b := [4]byte{byte(asn), byte(asn >> 8), byte(asn >> 16), byte(asn >> 24)}
	return maphash.Bytes(r.seeds[featASN], b[:])
}

// prefixHash hashes a subnet's masked address, length and family: what
// its text says (Learned and Compute see the same masked prefix).
func (r *RBA) prefixHash(p netip.Prefix) uint64 {
	var b [18]byte
	a := p.Addr()
	*(*[16]byte)(b[:]) = a.As16()
	b[16] = byte(p.Bits())
	if a.Is4() {
		b[17] = 4
	}
	return maphash.Bytes(r.seeds[featNetwork], b[:])
}
