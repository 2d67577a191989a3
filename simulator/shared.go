package simulator

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
)

// Shared addresses: most people do not have an address of their own for
// long. Offices put every employee behind a few NAT addresses of one
// business line; universities put their campus wifi (eduroam) behind a
// NAT pool; mobile carriers put millions of phones behind carrier-grade
// NAT (RFC 6888), whose public pools are small next to the address blocks
// GeoIP databases list for them. From the service's side such an address
// carries many accounts at once, with their typos: the detection of
// attacks from one address or subnet must not mistake it for a botnet.

// office is an employer's site: its NAT addresses in one /24 of the city's
// business block.
type office struct {
	block  int          // the business block (its ISP and location)
	nats   []netip.Addr // 1 to 8 addresses, all in one /24
	weight float64      // share of the city's office workers
}

// officeSizes are the employers of a city with a business block, largest
// first: weights of the city's office workers and NAT addresses each.
// Workers not drawn to one of them work in a small firm with an address
// of its own.
var officeSizes = []struct {
	weight float64
	nats   int
}{{0.16, 8}, {0.09, 4}, {0.06, 4}, {0.05, 2}, {0.04, 2}, {0.03, 2}, {0.03, 1}, {0.02, 1}}

// smallFirmShare is the share of office workers in a firm too small to
// share its address with other users of the service.
const smallFirmShare = 1 - 0.48

// busyOfficeNATs is the headquarters' NAT pool in the busy-office
// scenario (Config.BusyOffice): eight addresses of one /24.
const busyOfficeNATs = 8

// NREN is a national research and education network: universities'
// campus networks, under the network's real AS number and name.
var nrens = []ISP{
	{2200, "Renater", "FR", kindBusiness, true, 100}, {680, "Verein zur Foerderung eines Deutschen Forschungsnetzes e.V.", "DE", kindBusiness, true, 100},
	{786, "Jisc Services Limited", "GB", kindBusiness, true, 100}, {1103, "SURF B.V.", "NL", kindBusiness, true, 100},
	{766, "Entidad Publica Empresarial Red.es", "ES", kindBusiness, true, 100}, {137, "Consortium GARR", "IT", kindBusiness, true, 100},
	{559, "SWITCH", "CH", kindBusiness, true, 100}, {2611, "BELNET", "BE", kindBusiness, true, 100},
	{11537, "University Corporation for Advanced Internet Development", "US", kindBusiness, true, 100}, {6509, "CANARIE Inc", "CA", kindBusiness, true, 100},
}

// studentShare is the share of users who study at their city's
// university, where there is one.
const studentShare = 0.06

// campusMinHomes: cities at least this large (in homes weight) have a
// university on the country's research network.
const campusMinHomes = 3

// addShared gives the plan its offices and campuses. It depends only on
// the world, never on the seed.
func (p *plan) addShared() {
	w := p.w
	p.offices = make([][]office, len(w.cities))
	p.campus = make([]int, len(w.cities))
	nat := func(pr netip.Prefix, i int) netip.Addr {
		a := pr.Addr().As4()
		a[3] = byte(10 + 17*i) // spread over the /24, never .0 or .255
		return netip.AddrFrom4(a)
	}
	for ci := range w.cities {
		p.campus[ci] = -1
		if len(p.business[ci]) == 0 {
			continue
		}
		b := p.business[ci][0]
		for j, s := range officeSizes {
			// The /24s after the first of the business block: the first
			// holds the small firms' and hotels' single addresses.
			pr := sub(p.blocks[b].prefix, 24, j+1)
			o := office{block: b, weight: s.weight}
			for i := range s.nats {
				o.nats = append(o.nats, nat(pr, i))
			}
			p.offices[ci] = append(p.offices[ci], o)
		}
	}
	for i := range nrens {
		n := &nrens[i]
		c := w.byCountry[n.Country]
		r := rirOf(c)
		var v4 netip.Prefix
		campuses := 0
		for _, ci := range w.inCountry[n.Country] {
			if w.cities[ci].homes < campusMinHomes {
				continue
			}
			if !v4.IsValid() {
				v4 = p.alloc4(r)
			}
			k := len(p.campusNATs)
			blk := p.add(block{prefix: sub(v4, 20, campuses%16), isp: n, kind: kindBusiness, country: n.Country, city: ci, radius: 10})
			p.campus[ci] = k
			campuses++
			// Campus wifi leaves through a NAT pool of four addresses in
			// one /24, shared by every student and member of staff.
			pr := sub(p.blocks[blk].prefix, 24, 0)
			var nats []netip.Addr
			for j := range 4 {
				nats = append(nats, nat(pr, j))
			}
			p.campusNATs = append(p.campusNATs, campusNet{block: blk, nats: nats})
		}
	}
}

type campusNet struct {
	block int
	nats  []netip.Addr
}

// cgnatAddr is an address of a mobile carrier's IPv4 block as carrier-
// grade NAT hands them out: from a pool of two /24s at the start of the
// block (a regional gateway's public pool serves hundreds of thousands of
// subscribers), not anywhere in it.
func (p *plan) cgnatAddr(r *rand.Rand, b int) netip.Addr {
	pr := p.blocks[b].prefix
	if pr.Addr().Is6() {
		return p.addr(r, b) // IPv6 phones get addresses of their own
	}
	base := binary.BigEndian.Uint32(pr.Addr().AsSlice())
	for {
		h := r.Uint32() & 0x1ff // a /23
		if x := byte(h); x != 0 && x != 255 {
			v := base | h
			return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		}
	}
}

// workplace is where a user works or studies, and the addresses its
// network leaves through.
type workplace struct {
	block int
	nats  []netip.Addr
}

// addr is the NAT address one session leaves through: NAT pools spread
// connections over their addresses.
func (w *workplace) addr(r *rand.Rand) netip.Addr { return w.nats[r.IntN(len(w.nats))] }

// drawWorkplace places an office worker in one of the city's offices, or
// in a small firm with an address of its own in the business block.
func (p *plan) drawWorkplace(r *rand.Rand, city int) *workplace {
	offs := p.offices[city]
	if len(offs) == 0 {
		return nil
	}
	w := make([]float64, len(offs)+1)
	for i, o := range offs {
		w[i] = o.weight
	}
	w[len(offs)] = smallFirmShare
	if i := weighted(r, w); i < len(offs) {
		return &workplace{block: offs[i].block, nats: offs[i].nats}
	}
	b := offs[0].block
	small := sub(p.blocks[b].prefix, 24, 0)
	a := small.Addr().As4()
	a[3] = byte(1 + r.IntN(254))
	return &workplace{block: b, nats: []netip.Addr{netip.AddrFrom4(a)}}
}

// campusOf is the university of a city, or nil.
func (p *plan) campusOf(city int) *workplace {
	if k := p.campus[city]; k >= 0 {
		c := p.campusNATs[k]
		return &workplace{block: c.block, nats: c.nats}
	}
	return nil
}

// headquarters is the busy office: eight NAT addresses in a /24 of its
// own in the city's business block.
func (p *plan) headquarters(city int) *workplace {
	b := p.business[city][0]
	pr := sub(p.blocks[b].prefix, 24, len(officeSizes)+1)
	hq := &workplace{block: b}
	a := pr.Addr().As4()
	for i := range busyOfficeNATs {
		a[3] = byte(20 + 29*i)
		hq.nats = append(hq.nats, netip.AddrFrom4(a))
	}
	return hq
}
