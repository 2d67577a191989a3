package memstore

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"unsafe"

	"github.com/riskgate/riskgate/engine"
)

// Profiles are held encoded: an engine.Profile is ~370 bytes of struct
// (most of it a 24-hour histogram of zeros and six slice headers) plus an
// allocation per set and per value, a dozen cache lines to read per
// Score; encoded, a typical profile is one allocation of about 130 bytes.
//
// A blob is never modified once stored: learning a login encodes a new
// one. So a decoded profile's strings point into the blob without copying
// it (the blob lives as long as they do), and a Score reading a profile
// while another learns into it reads a consistent old one.
//
// Layout (uvarints as encoding/binary writes them; times fixed-width,
// which decodes several times faster than varints, and every Score decodes
// a profile):
//
//	time width byte: 4 when every time fits an unsigned 32-bit count of
//	      seconds (1970-2106), else 8; each time below is that many bytes,
//	      little-endian
//	logins uvarint, first_seen time, last_seen time
//	last: time, ip (length byte, then netip.Addr.AppendBinary's),
//	      country str, city str, has_location byte (0 none, 1 the last
//	      login's own fix, 2 an earlier login's carried past it),
//	      [lat, lon, accuracy_km: 8-byte IEEE 754 each, when has_location]
//	      [fix time, when has_location is 2]
//	hours: 24-bit mask of the non-zero hours (3 bytes), then each count uvarint
//	new_devices uvarint, no_device uvarint
//	devices, agents, countries, cities, asns, networks, asn_networks,
//	agent_versions: count uvarint, then each: value str, count uvarint,
//	      last time
//
// where str is a uvarint length and the bytes.

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func b2u8(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func appendF64(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// timeWidth is 4 when every time of p fits 32 unsigned bits, else 8. A
// time fits when, as a uint64, it has no bit set above the 32 low ones
// (a negative one has them all), so the times are or-ed together and
// tested once.
func timeWidth(p *engine.Profile) int {
	m := uint64(p.FirstSeen) | uint64(p.LastSeen) | uint64(p.Last.Time) | uint64(p.Last.FixTime)
	for _, set := range profileSets(p) {
		for i := range set {
			m |= uint64(set[i].Last)
		}
	}
	if m>>32 == 0 {
		return 4
	}
	return 8
}

// profileSets is p's sets of seen values, in their encoded order.
func profileSets(p *engine.Profile) [8][]engine.Seen {
	return [...][]engine.Seen{p.Devices, p.Agents, p.Countries, p.Cities, p.ASNs, p.Networks, p.ASNNetworks, p.AgentVersions}
}

func appendTime(b []byte, w int, t int64) []byte {
	if w == 4 {
		return binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	return binary.LittleEndian.AppendUint64(b, uint64(t))
}

// encodeProfile appends p's encoding to b.
func encodeProfile(b []byte, p *engine.Profile) []byte {
	w := timeWidth(p)
	b = append(b, byte(w))
	b = binary.AppendUvarint(b, uint64(p.Logins))
	b = appendTime(b, w, p.FirstSeen)
	b = appendTime(b, w, p.LastSeen)
	l := &p.Last
	b = appendTime(b, w, l.Time)
	// Without its zone, which a remote login's address has no use for and
	// which could outgrow the length byte.
	at := len(b)
	b, _ = l.IP.WithZone("").AppendBinary(append(b, 0)) // cannot fail
	b[at] = byte(len(b) - at - 1)
	b = appendStr(b, l.Country)
	b = appendStr(b, l.City)
	if l.HasLocation {
		carried := l.FixCarried()
		b = append(b, 1+b2u8(carried))
		b = appendF64(appendF64(appendF64(b, l.Lat), l.Lon), l.AccuracyKM)
		if carried {
			b = appendTime(b, w, l.FixTime)
		}
	} else {
		b = append(b, 0)
	}
	var mask uint32
	for h, n := range p.Hours {
		if n != 0 {
			mask |= 1 << h
		}
	}
	b = append(b, byte(mask), byte(mask>>8), byte(mask>>16))
	for _, n := range p.Hours {
		if n != 0 {
			b = binary.AppendUvarint(b, uint64(n))
		}
	}
	b = binary.AppendUvarint(b, uint64(p.NewDevices))
	b = binary.AppendUvarint(b, uint64(p.NoDevice))
	for _, set := range profileSets(p) {
		b = binary.AppendUvarint(b, uint64(len(set)))
		for i := range set {
			b = appendStr(b, set[i].Value)
			b = binary.AppendUvarint(b, uint64(set[i].Count))
			b = appendTime(b, w, set[i].Last)
		}
	}
	return b
}

var errCorrupt = errors.New("memstore: corrupt profile")

// decoder reads a blob; after the first error every read returns zero.
type decoder struct {
	b   []byte
	err error
	w   int // bytes per time
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	if len(d.b) > 0 && d.b[0] < 0x80 { // one byte: nearly every count and length
		v := uint64(d.b[0])
		d.b = d.b[1:]
		return v
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) time() int64 {
	if d.w == 4 && len(d.b) >= 4 {
		v := binary.LittleEndian.Uint32(d.b)
		d.b = d.b[4:]
		return int64(v)
	}
	if d.w == 8 && len(d.b) >= 8 {
		v := binary.LittleEndian.Uint64(d.b)
		d.b = d.b[8:]
		return int64(v)
	}
	d.fail()
	return 0
}

func (d *decoder) bytes(n int) []byte {
	if n < 0 || n > len(d.b) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// str returns a string pointing into the blob, which is never modified.
func (d *decoder) str() string {
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)) {
		if n != 0 {
			d.fail()
		}
		return ""
	}
	v := unsafe.String(&d.b[0], int(n))
	d.b = d.b[n:]
	return v
}

func (d *decoder) f64() float64 {
	v := d.bytes(8)
	if v == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(v))
}

// seen reads a set's member: str, count uvarint, time. Nearly every
// member has a length and a count of one byte each, read here in one go;
// others take the general reads.
func (d *decoder) seen() engine.Seen {
	b := d.b
	if len(b) > 0 && b[0] < 0x80 {
		n := int(b[0])
		if w := d.w; n+2+w <= len(b) && b[n+1] < 0x80 {
			var v string
			if n > 0 {
				v = unsafe.String(&b[1], n)
			}
			c, rest := uint32(b[n+1]), b[n+2:]
			var t int64
			if w == 4 {
				t = int64(binary.LittleEndian.Uint32(rest))
			} else {
				t = int64(binary.LittleEndian.Uint64(rest))
			}
			d.b = rest[w:]
			return engine.Seen{Value: v, Count: c, Last: t}
		}
	}
	return engine.Seen{Value: d.str(), Count: d.u32(), Last: d.time()}
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail()
	}
	return uint32(v)
}

// decodeProfile fills p from blob, reusing p's slices. p's strings point
// into blob.
func decodeProfile(blob []byte, p *engine.Profile) error {
	sets := [...]*[]engine.Seen{&p.Devices, &p.Agents, &p.Countries, &p.Cities, &p.ASNs, &p.Networks, &p.ASNNetworks, &p.AgentVersions}
	var old [len(sets)][]engine.Seen
	for i, s := range sets {
		old[i] = (*s)[:0]
	}
	*p = engine.Profile{}
	d := decoder{b: blob}
	if w := d.bytes(1); len(w) == 1 && (w[0] == 4 || w[0] == 8) {
		d.w = int(w[0])
	} else {
		d.fail()
	}
	p.Logins = d.u32()
	p.FirstSeen = d.time()
	p.LastSeen = d.time()
	l := &p.Last
	l.Time = d.time()
	if n := d.bytes(1); n != nil {
		if err := l.IP.UnmarshalBinary(d.bytes(int(n[0]))); err != nil {
			d.fail()
		}
	}
	l.Country = d.str()
	l.City = d.str()
	if hl := d.bytes(1); len(hl) == 1 && hl[0] != 0 {
		if hl[0] > 2 {
			d.fail()
		}
		l.HasLocation = true
		l.Lat, l.Lon, l.AccuracyKM = d.f64(), d.f64(), d.f64()
		if hl[0] == 2 {
			l.FixTime = d.time()
		}
	}
	if m := d.bytes(3); m != nil {
		mask := uint32(m[0]) | uint32(m[1])<<8 | uint32(m[2])<<16
		for mask != 0 {
			h := bits.TrailingZeros32(mask)
			mask &^= 1 << h
			p.Hours[h] = d.u32()
		}
	}
	p.NewDevices = d.u32()
	p.NoDevice = d.u32()
	for i, s := range sets {
		n := d.uvarint()
		if n > uint64(len(d.b)) { // each member takes at least a byte
			d.fail()
			n = 0
		}
		set := old[i]
		for range n {
			set = append(set, d.seen())
		}
		*s = set
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}
