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
	return append(appendUvarint(b, uint64(len(s))), s...)
}

// appendUvarint is binary.AppendUvarint with the one-byte case (nearly
// every count and length) first.
func appendUvarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return binary.AppendUvarint(b, v)
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

func appendTime(b []byte, w int, t int64) []byte {
	if w == 4 {
		return binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	return binary.LittleEndian.AppendUint64(b, uint64(t))
}

// encodeProfile appends p's encoding to b. Every learned login encodes
// one, so the sets are written field by field rather than through a copy
// of their headers, and the hours in one pass.
//
// The times are 4 bytes wide when every time of p fits 32 unsigned bits
// (the last login's fix time too, written or not), else 8. A time fits
// when, as a uint64, it has no bit set above the 32 low ones (a negative
// one has them all): p is written with 4-byte times, its times or-ed
// together on the way, and written again with 8 in the rare case that
// the or has a high bit. A pass over the times first cost every learned
// login about 100 instructions.
func encodeProfile(b []byte, p *engine.Profile) []byte {
	start := len(b)
	out, m := encodeProfileWidth(b, p, 4)
	if m>>32 == 0 {
		return out
	}
	out, _ = encodeProfileWidth(out[:start], p, 8)
	return out
}

// encodeProfileWidth is encodeProfile with w-byte times, and p's times
// or-ed together.
func encodeProfileWidth(b []byte, p *engine.Profile, w int) (_ []byte, times uint64) {
	times = uint64(p.FirstSeen) | uint64(p.LastSeen) | uint64(p.Last.Time) | uint64(p.Last.FixTime)
	b = append(b, byte(w))
	b = appendUvarint(b, uint64(p.Logins))
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
	// The mask of the non-zero hours goes before their counts: its bytes
	// are reserved and filled in after the pass.
	at = len(b)
	b = append(b, 0, 0, 0)
	// Most hours are zero: they are skipped four at a time.
	var mask uint32
	hs := &p.Hours
	for q := 0; q < len(hs); q += 4 {
		if hs[q]|hs[q+1]|hs[q+2]|hs[q+3] == 0 {
			continue
		}
		for h := q; h < q+4; h++ {
			if n := hs[h]; n != 0 {
				mask |= 1 << h
				b = appendUvarint(b, uint64(n))
			}
		}
	}
	b[at], b[at+1], b[at+2] = byte(mask), byte(mask>>8), byte(mask>>16)
	b = appendUvarint(b, uint64(p.NewDevices))
	b = appendUvarint(b, uint64(p.NoDevice))
	b, times = appendSet(b, w, p.Devices, times)
	b, times = appendSet(b, w, p.Agents, times)
	b, times = appendSet(b, w, p.Countries, times)
	b, times = appendSet(b, w, p.Cities, times)
	b, times = appendSet(b, w, p.ASNs, times)
	b, times = appendSet(b, w, p.Networks, times)
	b, times = appendSet(b, w, p.ASNNetworks, times)
	return appendSet(b, w, p.AgentVersions, times)
}

// appendSet appends set, and or-s its times into times.
func appendSet(b []byte, w int, set []engine.Seen, times uint64) ([]byte, uint64) {
	b = appendUvarint(b, uint64(len(set)))
	for i := range set {
		s := &set[i]
		times |= uint64(s.Last)
		b = appendTime(appendUvarint(appendStr(b, s.Value), uint64(s.Count)), w, s.Last)
	}
	return b, times
}

var errCorrupt = errors.New("memstore: corrupt profile")

// decoder reads a blob from position i; after the first error every read
// returns zero. Every Score of a known user decodes a profile, so reads
// advance an index (one add) rather than reslice (three words), and the
// common one-byte cases inline.
type decoder struct {
	b   []byte
	i   int
	w   int // bytes per time
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b, d.i = nil, 0
}

func (d *decoder) uvarint() uint64 {
	if i := d.i; i < len(d.b) && d.b[i] < 0x80 { // one byte: nearly every count and length
		d.i = i + 1
		return uint64(d.b[i])
	}
	return d.uvarintLong()
}

func (d *decoder) uvarintLong() uint64 {
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) time() int64 {
	if i := d.i; d.w == 4 && len(d.b)-i >= 4 {
		d.i = i + 4
		return int64(binary.LittleEndian.Uint32(d.b[i:]))
	}
	return d.time8()
}

func (d *decoder) time8() int64 {
	if d.w == 8 && len(d.b)-d.i >= 8 {
		v := binary.LittleEndian.Uint64(d.b[d.i:])
		d.i += 8
		return int64(v)
	}
	d.fail()
	return 0
}

// byte reads one byte; ok is false (and the decoder failed) at the end.
func (d *decoder) byte() (v byte, ok bool) {
	if d.i < len(d.b) {
		v = d.b[d.i]
		d.i++
		return v, true
	}
	d.fail()
	return 0, false
}

func (d *decoder) bytes(n int) []byte {
	if n < 0 || n > len(d.b)-d.i {
		d.fail()
		return nil
	}
	v := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return v
}

// str returns a string pointing into the blob, which is never modified.
func (d *decoder) str() string {
	n := d.uvarint()
	if n == 0 || n > uint64(len(d.b)-d.i) {
		if n != 0 {
			d.fail()
		}
		return ""
	}
	v := unsafe.String(&d.b[d.i], int(n))
	d.i += int(n)
	return v
}

func (d *decoder) f64() float64 {
	if len(d.b)-d.i >= 8 {
		v := binary.LittleEndian.Uint64(d.b[d.i:])
		d.i += 8
		return math.Float64frombits(v)
	}
	d.fail()
	return 0
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail()
	}
	return uint32(v)
}

// set reads a set into set's memory: count uvarint, then each member:
// str, count uvarint, time. Nearly every member has a length of one byte
// and a count of one or two, read here in one go; others take the
// general reads.
func (d *decoder) set(set []engine.Seen) []engine.Seen {
	// uvarint written out: it is over the inliner's budget.
	var n uint64
	if i := d.i; i < len(d.b) && d.b[i] < 0x80 {
		n, d.i = uint64(d.b[i]), i+1
	} else {
		n = d.uvarintLong()
	}
	if n > uint64(len(d.b)-d.i) { // each member takes at least a byte
		d.fail()
		return set
	}
	for range n {
		// The fast path: a length of one byte and a count of one or two
		// (a browser version), as binary.Uvarint reads them.
		b, i, w := d.b, d.i, d.w
		if i < len(b) && b[i] < 0x80 {
			k := int(b[i])
			j := i + 1 + k // the count
			if j+1+w <= len(b) {
				c := uint32(b[j])
				if c >= 0x80 && j+2+w <= len(b) && b[j+1] < 0x80 {
					c = c&0x7f | uint32(b[j+1])<<7
					j++
				}
				if c < 0x80 || j > i+1+k {
					var v string
					if k > 0 {
						v = unsafe.String(&b[i+1], k)
					}
					var t int64
					if w == 4 {
						t = int64(binary.LittleEndian.Uint32(b[j+1:]))
					} else {
						t = int64(binary.LittleEndian.Uint64(b[j+1:]))
					}
					d.i = j + 1 + w
					set = append(set, engine.Seen{Value: v, Count: c, Last: t})
					continue
				}
			}
		}
		set = append(set, engine.Seen{Value: d.str(), Count: d.u32(), Last: d.time()})
	}
	return set
}

// decodeProfile fills p from blob, reusing p's slices. p's strings point
// into blob. Every field of p is assigned (TestDecodeOverwritesEveryField
// holds it to that as fields are added).
func decodeProfile(blob []byte, p *engine.Profile) error {
	d := decoder{b: blob}
	if len(blob) > 0 && (blob[0] == 4 || blob[0] == 8) {
		d.w, d.i = int(blob[0]), 1
	} else {
		d.fail()
	}
	p.Logins = d.u32()
	p.FirstSeen = d.time()
	p.LastSeen = d.time()
	l := &p.Last
	*l = engine.LastLogin{Time: d.time()}
	if n, ok := d.byte(); ok {
		if err := l.IP.UnmarshalBinary(d.bytes(int(n))); err != nil {
			d.fail()
		}
	}
	l.Country = d.str()
	l.City = d.str()
	if hl, ok := d.byte(); ok && hl != 0 {
		if hl > 2 {
			d.fail()
		}
		l.HasLocation = true
		l.Lat, l.Lon, l.AccuracyKM = d.f64(), d.f64(), d.f64()
		if hl == 2 {
			l.FixTime = d.time()
		}
	}
	p.Hours = [24]uint32{}
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
	p.Devices = d.set(p.Devices[:0])
	p.Agents = d.set(p.Agents[:0])
	p.Countries = d.set(p.Countries[:0])
	p.Cities = d.set(p.Cities[:0])
	p.ASNs = d.set(p.ASNs[:0])
	p.Networks = d.set(p.Networks[:0])
	p.ASNNetworks = d.set(p.ASNNetworks[:0])
	p.AgentVersions = d.set(p.AgentVersions[:0])
	if d.err == nil && d.i != len(d.b) {
		d.fail()
	}
	return d.err
}
