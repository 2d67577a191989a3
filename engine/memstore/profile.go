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
// Layout (varints as encoding/binary writes them):
//
//	logins uvarint, first_seen varint, last_seen varint
//	last: time varint, ip (length byte, then netip.Addr.AppendBinary's),
//	      country str, city str, has_location byte,
//	      [lat, lon, accuracy_km: 8-byte IEEE 754 each, when has_location]
//	hours: 24-bit mask of the non-zero hours (3 bytes), then each count uvarint
//	devices, agents, countries, cities, asns, networks:
//	      count uvarint, then each: value str, count uvarint, last varint
//
// where str is a uvarint length and the bytes.

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendF64(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// encodeProfile appends p's encoding to b.
func encodeProfile(b []byte, p *engine.Profile) []byte {
	b = binary.AppendUvarint(b, uint64(p.Logins))
	b = binary.AppendVarint(b, p.FirstSeen)
	b = binary.AppendVarint(b, p.LastSeen)
	l := &p.Last
	b = binary.AppendVarint(b, l.Time)
	// Without its zone, which a remote login's address has no use for and
	// which could outgrow the length byte.
	at := len(b)
	b, _ = l.IP.WithZone("").AppendBinary(append(b, 0)) // cannot fail
	b[at] = byte(len(b) - at - 1)
	b = appendStr(b, l.Country)
	b = appendStr(b, l.City)
	if l.HasLocation {
		b = append(b, 1)
		b = appendF64(appendF64(appendF64(b, l.Lat), l.Lon), l.AccuracyKM)
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
	for _, set := range [...][]engine.Seen{p.Devices, p.Agents, p.Countries, p.Cities, p.ASNs, p.Networks} {
		b = binary.AppendUvarint(b, uint64(len(set)))
		for i := range set {
			b = appendStr(b, set[i].Value)
			b = binary.AppendUvarint(b, uint64(set[i].Count))
			b = binary.AppendVarint(b, set[i].Last)
		}
	}
	return b
}

var errCorrupt = errors.New("memstore: corrupt profile")

// decoder reads a blob; after the first error every read returns zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
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
	v := d.bytes(int(min(d.uvarint(), uint64(len(d.b)+1))))
	if len(v) == 0 {
		return ""
	}
	return unsafe.String(&v[0], len(v))
}

func (d *decoder) f64() float64 {
	v := d.bytes(8)
	if v == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(v))
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
	sets := [...]*[]engine.Seen{&p.Devices, &p.Agents, &p.Countries, &p.Cities, &p.ASNs, &p.Networks}
	var old [len(sets)][]engine.Seen
	for i, s := range sets {
		old[i] = (*s)[:0]
	}
	*p = engine.Profile{}
	d := decoder{b: blob}
	p.Logins = d.u32()
	p.FirstSeen = d.varint()
	p.LastSeen = d.varint()
	l := &p.Last
	l.Time = d.varint()
	if n := d.bytes(1); n != nil {
		if err := l.IP.UnmarshalBinary(d.bytes(int(n[0]))); err != nil {
			d.fail()
		}
	}
	l.Country = d.str()
	l.City = d.str()
	if hl := d.bytes(1); len(hl) == 1 && hl[0] == 1 {
		l.HasLocation = true
		l.Lat, l.Lon, l.AccuracyKM = d.f64(), d.f64(), d.f64()
	}
	if m := d.bytes(3); m != nil {
		mask := uint32(m[0]) | uint32(m[1])<<8 | uint32(m[2])<<16
		for mask != 0 {
			h := bits.TrailingZeros32(mask)
			mask &^= 1 << h
			p.Hours[h] = d.u32()
		}
	}
	for i, s := range sets {
		n := d.uvarint()
		if n > uint64(len(d.b)) { // each member takes at least a byte
			d.fail()
			n = 0
		}
		set := old[i]
		for range n {
			set = append(set, engine.Seen{Value: d.str(), Count: d.u32(), Last: d.varint()})
		}
		*s = set
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}
