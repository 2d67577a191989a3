package simulator

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
)

// The IP plan gives every ISP address blocks and writes them into the
// generated GeoIP databases, so that the engine locates the simulated
// traffic through its real GeoIP enrichment.
//
// The blocks are allocated from the registry a country really gets its
// addresses from (RIPE NCC for Europe and the Middle East, ARIN for North
// America, LACNIC, APNIC, AFRINIC), inside /8s that registry really holds,
// so addresses look like the real thing and are all public unicast (none
// is private, CGNAT, reserved or documentation space). They are NOT the
// ISPs' real prefixes: the databases written with the stream are the only
// truth about them.

type rir uint8

const (
	ripe rir = iota
	arin
	lacnic
	apnic
	afrinic
	numRIRs
)

// rirOctets are /8s each registry administers (IANA IPv4 address space
// registry); none is special-purpose.
var rirOctets = [numRIRs][]byte{
	ripe:    {2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 109, 141, 151, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217},
	arin:    {23, 24, 50, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99, 104, 107, 108, 173, 174, 184, 199, 204, 205, 206, 207, 208, 209, 216},
	lacnic:  {177, 179, 181, 186, 187, 189, 190, 191, 200, 201},
	apnic:   {1, 14, 27, 36, 39, 42, 49, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 175, 180, 182, 183, 202, 210, 211, 218, 219, 220, 221, 222},
	afrinic: {41, 102, 105, 154, 196, 197},
}

// rirV6 is the first 16 bits of each registry's IPv6 allocations
// (2a00::/12 RIPE, 2600::/12 ARIN, 2800::/12 LACNIC, 2400::/12 APNIC,
// 2c00::/12 AFRINIC).
var rirV6 = [numRIRs]uint16{ripe: 0x2a02, arin: 0x2601, lacnic: 0x2804, apnic: 0x2401, afrinic: 0x2c0f}

func rirOf(c *Country) rir {
	switch c.Code {
	case "US", "CA":
		return arin
	case "MX", "BR", "AR":
		return lacnic
	case "NG", "ZA", "EG":
		return afrinic
	}
	switch c.Continent {
	case "eu":
		return ripe
	case "as", "oc":
		if c.Code == "TR" || c.Code == "AE" {
			return ripe
		}
		return apnic
	}
	return ripe
}

// block is one network of the plan, one record in each GeoIP database.
type block struct {
	prefix  netip.Prefix
	isp     *ISP
	kind    ispKind
	country string
	city    int    // index in world.cities; -1 for a country-level record
	radius  uint16 // accuracy radius, km
	vpn     bool   // a VPN provider's exit
	flagged bool   // the Anonymous-IP database knows it (as VPN, or as hosting)
	tor     bool
}

// plan is the world's address plan.
type plan struct {
	w      *world
	blocks []block
	next4  [numRIRs]int // /16s handed out per registry
	next6  [numRIRs]int // /32s handed out per registry
	// Indexes into blocks, per city (slices indexed like world.cities).
	residential [][]int // v4 and v6 home broadband blocks of every ISP
	business    [][]int
	hosting     [][]int
	vpnExits    [][]int // per VPN provider, its exit blocks
	mobile      map[*ISP][]int
	// Residential ISPs and carriers per country, in table order.
	homeISPs, carriers map[string][]*ISP
	tor                []int
	// proxies are single residential addresses known to the Anonymous-IP
	// database as residential proxies.
	proxies []netip.Addr
	// Shared addresses (shared.go): offices per city, the index of each
	// city's campus in campusNATs (-1 for none).
	offices    [][]office
	campus     []int
	campusNATs []campusNet
}

// alloc4 hands out the next /16 of a registry. A fixed bijection spreads
// the second octet so that neighbouring ISPs do not look sequential.
func (p *plan) alloc4(r rir) netip.Prefix {
	k := p.next4[r]
	p.next4[r]++
	oct := rirOctets[r]
	a := oct[k%len(oct)]
	b := byte((k/len(oct)*53 + 17) % 256)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{a, b, 0, 0}), 16)
}

// alloc6 hands out the next /32 of a registry.
func (p *plan) alloc6(r rir) netip.Prefix {
	k := p.next6[r]
	p.next6[r]++
	var a [16]byte
	binary.BigEndian.PutUint16(a[0:], rirV6[r])
	binary.BigEndian.PutUint16(a[2:], uint16(k*4099+0x1a2b))
	return netip.PrefixFrom(netip.AddrFrom16(a), 32)
}

// sub returns the i-th subnet of length bits inside p.
func sub(p netip.Prefix, bits, i int) netip.Prefix {
	a := p.Addr().As16()
	if p.Addr().Is4() {
		v := binary.BigEndian.Uint32(a[12:]) | uint32(i)<<(32-bits)
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits)
	}
	hi := binary.BigEndian.Uint64(a[:8]) | uint64(i)<<(64-bits)
	binary.BigEndian.PutUint64(a[:8], hi)
	return netip.PrefixFrom(netip.AddrFrom16(a), bits)
}

func (p *plan) add(b block) int {
	p.blocks = append(p.blocks, b)
	return len(p.blocks) - 1
}

func newPlan(w *world) *plan {
	p := &plan{w: w, mobile: map[*ISP][]int{}, homeISPs: map[string][]*ISP{}, carriers: map[string][]*ISP{}}
	n := len(w.cities)
	p.residential, p.business, p.hosting = make([][]int, n), make([][]int, n), make([][]int, n)
	// Copies, so that *ISP identities are the plan's own.
	accessISPs := append([]ISP(nil), isps...)
	for i := range accessISPs {
		isp := &accessISPs[i]
		c := w.byCountry[isp.Country]
		r := rirOf(c)
		if isp.Kind == kindMobile {
			p.carriers[isp.Country] = append(p.carriers[isp.Country], isp)
			p.addCarrier(isp, c, r)
			continue
		}
		p.homeISPs[isp.Country] = append(p.homeISPs[isp.Country], isp)
		var v6 netip.Prefix
		if isp.IPv6 {
			v6 = p.alloc6(r)
		}
		for j, ci := range w.inCountry[isp.Country] {
			// City-level broadband: a GeoIP fix of 10 to 50 km, as MaxMind
			// publishes for fixed lines.
			radius := uint16(20)
			if w.cities[ci].homes < 2 {
				radius = 50
			}
			p.residential[ci] = append(p.residential[ci], p.add(block{prefix: p.alloc4(r), isp: isp, kind: kindResidential, country: isp.Country, city: ci, radius: radius}))
			if isp.IPv6 {
				p.residential[ci] = append(p.residential[ci], p.add(block{prefix: sub(v6, 40, j+1), isp: isp, kind: kindResidential, country: isp.Country, city: ci, radius: radius}))
			}
		}
	}
	// Business lines (offices, hotels) of the country's main ISP, in every
	// city: a /20 each, located precisely.
	for ci, c := range w.cities {
		main := p.homeISPs[c.Country]
		if len(main) == 0 {
			continue
		}
		r := rirOf(w.byCountry[c.Country])
		p.business[ci] = append(p.business[ci], p.add(block{prefix: sub(p.alloc4(r), 20, 0), isp: main[0], kind: kindBusiness, country: c.Country, city: ci, radius: 10}))
	}
	for i := range hostings {
		h := &hostings[i]
		for _, name := range h.Cities {
			ci := w.city(name)
			r := rirOf(w.byCountry[w.cities[ci].Country])
			p.hosting[ci] = append(p.hosting[ci], p.add(block{prefix: sub(p.alloc4(r), 20, 0), isp: &h.ISP, kind: kindHosting, country: w.cities[ci].Country, city: ci, radius: 100, flagged: true}))
		}
	}
	p.vpnExits = make([][]int, len(vpnProviders))
	for i := range vpnProviders {
		v := &vpnProviders[i]
		// Whether the database knows an exit is fixed per exit, by a hash
		// of its place in the table: the plan does not depend on the seed.
		for j, name := range v.Exits {
			ci := w.city(name)
			r := rirOf(w.byCountry[w.cities[ci].Country])
			flagged := float64((j*37+i*11)%100) < v.Flagged*100
			p.vpnExits[i] = append(p.vpnExits[i], p.add(block{prefix: sub(p.alloc4(r), 24, 0), isp: &v.Network, kind: kindHosting, country: w.cities[ci].Country, city: ci, radius: 20, vpn: true, flagged: flagged}))
		}
	}
	// A few Tor exits, in the German and Dutch hosting networks where most
	// of them run.
	for _, name := range []string{"Falkenstein", "Amsterdam"} {
		ci := w.city(name)
		if len(p.hosting[ci]) > 0 {
			h := p.blocks[p.hosting[ci][0]]
			p.tor = append(p.tor, p.add(block{prefix: sub(p.alloc4(ripe), 24, 0), isp: h.isp, kind: kindHosting, country: h.country, city: ci, radius: 100, flagged: true, tor: true}))
		}
	}
	p.addShared()
	return p
}

// addCarrier gives a mobile carrier IPv4 blocks (and IPv6 ones when it
// has IPv6): one per gateway (a regional packet gateway, located at its
// city with the wide radius GeoIP databases give mobile networks) and four
// located only to the country. A phone's address comes from the gateway
// of its region or from a country-level block: carrier-grade NAT and
// packet gateways are where the traffic leaves the carrier, not where the
// subscriber stands.
func (p *plan) addCarrier(isp *ISP, c *Country, r rir) {
	gw := p.w.inCountry[isp.Country]
	if len(gw) > 10 {
		gw = gw[:10]
	}
	v4 := p.alloc4(r)
	var v6 netip.Prefix
	if isp.IPv6 {
		v6 = p.alloc6(r)
	}
	for i := range len(gw) + 4 {
		b := block{isp: isp, kind: kindMobile, country: isp.Country, city: -1, radius: 1000}
		if i < len(gw) {
			b.city, b.radius = gw[i], c.MobileAccuracyKM
		}
		b.prefix = sub(v4, 20, i)
		p.mobile[isp] = append(p.mobile[isp], p.add(b))
		if isp.IPv6 {
			b.prefix = sub(v6, 36, i)
			p.mobile[isp] = append(p.mobile[isp], p.add(b))
		}
	}
}

// addr picks an address in block b: a usable host of an IPv4 block, or an
// address with a random interface id in a random /64 of an IPv6 one.
func (p *plan) addr(r *rand.Rand, b int) netip.Addr {
	pr := p.blocks[b].prefix
	a := pr.Addr().As16()
	if pr.Addr().Is4() {
		host := uint32(1)<<(32-pr.Bits()) - 1
		v := binary.BigEndian.Uint32(a[12:])
		for {
			h := r.Uint32() & host
			if x := byte(h); x != 0 && x != 255 {
				v |= h
				break
			}
		}
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	hi := binary.BigEndian.Uint64(a[:8])
	hi |= r.Uint64() & (uint64(1)<<(64-pr.Bits()) - 1)
	binary.BigEndian.PutUint64(a[:8], hi)
	binary.BigEndian.PutUint64(a[8:], r.Uint64()|1)
	return netip.AddrFrom16(a)
}

// withIID keeps the /64 of a and gives it a new interface id, as IPv6
// privacy extensions (RFC 8981) do every day or so.
func withIID(r *rand.Rand, a netip.Addr) netip.Addr {
	if a.Is4() {
		return a
	}
	b := a.As16()
	binary.BigEndian.PutUint64(b[8:], r.Uint64()|1)
	return netip.AddrFrom16(b)
}

// pick returns a random block of the list belonging to isp (any ISP when
// nil), IPv6 or IPv4, or -1 when there is none.
func (p *plan) pick(r *rand.Rand, list []int, isp *ISP, v6 bool) int {
	var cand []int
	for _, b := range list {
		if (isp == nil || p.blocks[b].isp == isp) && p.blocks[b].prefix.Addr().Is6() == v6 {
			cand = append(cand, b)
		}
	}
	if len(cand) == 0 {
		return -1
	}
	return cand[r.IntN(len(cand))]
}
