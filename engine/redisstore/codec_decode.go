package redisstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"github.com/riskgate/riskgate/engine"
)

// decoder reads an encoding, remembering the first error; reads after an
// error return zero values, so callers check once at the end.
//
// When the input is a string (src set, b a read-only view of it), decoded
// strings are substrings of it instead of copies: a profile read from a
// store reply then costs no allocation per member.
type decoder struct {
	b   []byte
	src string
	err error
}

// stringDecoder decodes s in place. b aliases s's bytes and is only read.
func stringDecoder(s string) decoder {
	return decoder{b: unsafe.Slice(unsafe.StringData(s), len(s)), src: s}
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errCodec}, args...)...)
	}
	d.b = nil
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

func (d *decoder) header(kind byte) {
	if v := d.byte(); v != codecVersion && d.err == nil {
		d.fail("version %d, want %d", v, codecVersion)
	}
	if k := d.byte(); k != kind && d.err == nil {
		d.fail("kind %q, want %q", k, kind)
	}
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes(n int) []byte {
	if n < 0 || n > len(d.b) {
		d.fail("truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail("%d overflows 32 bits", v)
		return 0
	}
	return uint32(v)
}

// count reads a length of items taking at least min bytes each.
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if v > maxSetLen || v*uint64(min) > uint64(len(d.b)) {
		d.fail("count %d too large", v)
		return 0
	}
	return int(v)
}

func (d *decoder) string() string {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.fail("string of %d bytes, %d left", v, len(d.b))
		return ""
	}
	if d.src != "" {
		start := len(d.src) - len(d.b)
		d.b = d.b[v:]
		return d.src[start : start+int(v)]
	}
	return string(d.bytes(int(v)))
}

func (d *decoder) key(k *engine.Key) {
	copy(k[:], d.bytes(len(k)))
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		d.fail("nanoseconds %d", nsec)
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.Unix() != sec {
		d.fail("time %d out of range", sec)
		return time.Time{}
	}
	return t
}

func (d *decoder) addr() netip.Addr {
	raw := d.bytes(int(d.byte()))
	if d.err != nil {
		return netip.Addr{}
	}
	var a netip.Addr
	if err := a.UnmarshalBinary(raw); err != nil {
		d.fail("address: %v", err)
		return netip.Addr{}
	}
	return a
}

func (d *decoder) prefix() netip.Prefix {
	bits := int(d.byte()) - 1
	if bits < 0 {
		return netip.Prefix{}
	}
	a := d.addr()
	if d.err != nil {
		return netip.Prefix{}
	}
	p := netip.PrefixFrom(a, bits)
	if !p.IsValid() {
		d.fail("prefix /%d of %v", bits, a)
	}
	return p
}

func (d *decoder) float() float64 {
	switch d.byte() {
	case floatZero:
		return 0
	case floatHundredths:
		h := d.varint()
		if h >= 1<<50 || h <= -1<<50 {
			d.fail("float of %d hundredths", h)
			return 0
		}
		return float64(h) / 100
	case floatRaw:
		raw := d.bytes(8)
		if d.err != nil {
			return 0
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(raw))
	}
	d.fail("bad float form")
	return 0
}

func (d *decoder) last(l *engine.LastLogin) {
	l.Time = d.varint()
	l.IP = d.addr()
	l.Country = d.string()
	l.City = d.string()
	switch d.byte() {
	case 0:
		l.HasLocation = false
	case 1:
		l.HasLocation = true
	default:
		d.fail("bad location flag")
	}
	l.Lat, l.Lon, l.AccuracyKM = d.float(), d.float(), d.float()
}

func (d *decoder) login(l *engine.Login) {
	flags := d.byte()
	if flags&^(bitUser|bitDevice|bitLocation) != 0 {
		d.fail("login flags %#x", flags)
	}
	*l = engine.Login{Tenant: d.string()}
	if flags&bitUser != 0 {
		d.key(&l.User)
	}
	l.Time = d.time()
	l.IP = d.addr()
	l.Subnet = d.prefix()
	if flags&bitDevice != 0 {
		d.key(&l.Device)
	}
	l.Agent = d.string()
	l.Country = d.string()
	l.City = d.string()
	l.HasLocation = flags&bitLocation != 0
	l.Lat, l.Lon, l.AccuracyKM = d.float(), d.float(), d.float()
	l.ASN = d.u32()
}

func (d *decoder) event(ev *engine.Event) {
	flags := d.byte()
	if flags&^(bitUser|bitAccount|bitUsername|bitPassword|bitAttempt|bitFailed) != 0 {
		d.fail("event flags %#x", flags)
	}
	*ev = engine.Event{Tenant: d.string(), Attempt: flags&bitAttempt != 0, Failed: flags&bitFailed != 0}
	ev.Time = d.time()
	for i, k := range [...]*engine.Key{&ev.User, &ev.Account, &ev.Username, &ev.Password} {
		if flags&(1<<i) != 0 {
			d.key(k)
		}
	}
	ev.IP = d.addr()
	ev.Subnet = d.prefix()
	ev.ASN = d.u32()
}

func (d *decoder) asn() string {
	n := d.uvarint()
	if n == 0 {
		return d.string()
	}
	if n-1 > math.MaxUint32 {
		d.fail("asn %d", n-1)
		return ""
	}
	return strconv.FormatUint(n-1, 10)
}

func (d *decoder) network() string {
	if len(d.b) > 0 && d.b[0] == 0 {
		d.b = d.b[1:]
		return d.string()
	}
	p := d.prefix()
	if d.err != nil {
		return ""
	}
	return p.String()
}
