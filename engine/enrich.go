package engine

import (
	"net/netip"
)

// Enrichment is what the engine knows about the source address beyond the
// attempt: where it is and what network it belongs to. Enrichers fill it in
// order; the attempt's geo hint is applied after them, only if none of them
// located the address.
type Enrichment struct {
	Location Location
	Network  Network
}

// Location is a fix for the address.
type Location struct {
	Known          bool
	Source         string // "geoip", "hint" or "" (none)
	Country        string // ISO 3166-1 alpha-2, upper case
	Subdivision    string
	City           string
	HasCoordinates bool
	Lat, Lon       float64
	AccuracyKM     float64 // radius of uncertainty
}

// Network is what is known of the address's network.
type Network struct {
	Class          IPClass
	ASN            uint32
	ASOrg          string
	HostingASN     bool     // the ASN is on the hosting/datacenter list
	Lists          []string // configured IP lists containing the address; shared, never modified
	AnonymousKnown bool
	VPN            bool
	Tor            bool
	Proxy          bool
	Hosting        bool
}

// Enricher adds what it knows about addr to e. It must not block on the
// network, must be safe for concurrent use and should not allocate per call
// in the steady state. An error means "this source failed", not "unknown":
// the engine counts it and carries on with what it has.
type Enricher interface {
	Enrich(addr netip.Addr, e *Enrichment) error
}

// AnyAddressEnricher is an Enricher asked about every address, not only
// public ones (IPClass): what it knows is the operator's own, such as IP
// lists naming a corporate VPN in 10.0.0.0/8, where a GeoIP database
// knows nothing of a private address. EnrichesAnyAddress reports whether
// it is (a wrapper may say no).
type AnyAddressEnricher interface {
	Enricher
	EnrichesAnyAddress() bool
}

// IPClass says what kind of address a login comes from. Only public
// addresses can be located; the others are reported explicitly so that
// rules can treat a login from 10.0.0.0/8 as internal rather than unknown.
type IPClass uint8

// IP classes.
const (
	ClassPublic IPClass = iota
	ClassPrivate
	ClassLoopback
	ClassLinkLocal
	ClassCGNAT
	ClassReserved
)

var classNames = [...]string{"public", "private", "loopback", "link_local", "cgnat", "reserved"}

func (c IPClass) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "reserved"
}

var (
	cgnat    = netip.MustParsePrefix("100.64.0.0/10")
	reserved = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("192.0.0.0/24"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("240.0.0.0/4"),
		netip.MustParsePrefix("255.255.255.255/32"),
		netip.MustParsePrefix("64:ff9b:1::/48"),
		netip.MustParsePrefix("100::/64"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("2001::/23"),
		netip.MustParsePrefix("::/128"),
	}
)

// Classify returns the class of addr. Documentation and benchmarking ranges
// are reserved: no real login comes from them.
func Classify(addr netip.Addr) IPClass {
	addr = addr.Unmap()
	if addr.Is4() && plainOctet[addr.As4()[0]] {
		return ClassPublic // the common case, without testing every range
	}
	return classify(addr)
}

// plainOctet marks the first octets of IPv4 addresses that no range of
// classify (special4) overlaps: all of them are public.
var plainOctet = func() (plain [256]bool) {
	for i := range plain {
		plain[i] = true
	}
	for _, p := range special4() {
		a, bits := p.Masked().Addr().As4()[0], p.Bits()
		last := a
		if bits < 8 {
			last = a | byte(0xff>>bits)
		}
		for o := int(a); o <= int(last); o++ {
			plain[o] = false
		}
	}
	return plain
}()

// special4 is every IPv4 range classify tells apart from public: netip's
// loopback, private, link-local, multicast and unspecified, CGNAT and the
// reserved ranges.
func special4() []netip.Prefix {
	out := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("224.0.0.0/4"),
		netip.MustParsePrefix("0.0.0.0/32"), cgnat,
	}
	for _, p := range reserved {
		if p.Addr().Is4() {
			out = append(out, p)
		}
	}
	return out
}

// classify is Classify without the fast path.
func classify(addr netip.Addr) IPClass {
	switch {
	case addr.IsLoopback():
		return ClassLoopback
	case addr.IsPrivate():
		return ClassPrivate
	case addr.IsLinkLocalUnicast():
		return ClassLinkLocal
	case addr.IsMulticast() || addr.IsUnspecified() || addr.IsInterfaceLocalMulticast() || addr.IsLinkLocalMulticast():
		return ClassReserved
	case addr.Is4() && cgnat.Contains(addr):
		return ClassCGNAT
	}
	for _, p := range reserved {
		if p.Contains(addr) {
			return ClassReserved
		}
	}
	if addr.Is6() && !addr.IsGlobalUnicast() {
		return ClassReserved
	}
	return ClassPublic
}

// WindowAddr is what the per-address windows (ip.failures_10m, ...) count
// an address under: an IPv4 address itself, an IPv6 address's /64 (its
// first address). A /64 is the IPv6 counterpart of one IPv4 address: the
// unit a home, a phone or a rented server is given, within which any host
// picks its interface id at will (privacy addresses change every few
// hours, and a bot can take a fresh one per attempt). Counted per /128,
// one server's stuffing run would show a single failure per address.
func WindowAddr(addr netip.Addr) netip.Addr {
	if addr.Is4() {
		return addr
	}
	p, _ := addr.Prefix(64)
	return p.Addr()
}

// SubnetOf returns the /24 of an IPv4 address or the /48 of an IPv6 one: the
// unit a single customer or attacker usually controls.
func SubnetOf(addr netip.Addr) netip.Prefix {
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, _ := addr.Prefix(bits)
	return p
}

// subnetText is p's text, as netip.Prefix.AppendTo writes it.
func subnetText(p netip.Prefix) string {
	var buf [64]byte
	return string(appendSubnet(buf[:0], p))
}

// appendSubnet appends p's text, as netip.Prefix.AppendTo does. Every
// Score formats its subnet, and every learned login again, nearly always
// an IPv4 /24, where AppendTo takes the general way (an octet at a time
// through strconv, then the bits): that shape is written here in a few
// instructions instead. TestSubnetTextMatchesNetip holds the two equal.
func appendSubnet(b []byte, p netip.Prefix) []byte {
	if a := p.Addr(); a.Is4() && p.Bits() == 24 {
		o := a.As4()
		b = appendOctet(b, o[0])
		b = appendOctet(append(b, '.'), o[1])
		b = appendOctet(append(b, '.'), o[2])
		b = appendOctet(append(b, '.'), o[3]) // 0 in a masked prefix, but as given
		return append(b, "/24"...)
	}
	return p.AppendTo(b)
}

// appendOctet appends v in decimal, without leading zeros.
func appendOctet(b []byte, v byte) []byte {
	switch {
	case v >= 100:
		return append(b, '0'+v/100, '0'+v/10%10, '0'+v%10)
	case v >= 10:
		return append(b, '0'+v/10, '0'+v%10)
	}
	return append(b, '0'+v)
}
