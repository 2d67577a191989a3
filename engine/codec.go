package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Binary encodings of Profile, Login and Pending, for stores that keep them
// outside the process (engine/redisstore). JSON would do, but a profile is
// read on every Score and held for every user, so it is encoded compactly:
// varints, timestamps of set members as deltas from the profile's last
// login, absent keys as bits. Every encoding starts with a format version
// byte and a kind byte, so a reader can refuse what it does not know instead
// of misreading it, and a later format can be introduced beside this one.
//
// Decoders never panic on garbage: every length is checked against what is
// left, and trailing bytes are an error.

// CodecVersion is the format version written by the Append functions.
const CodecVersion = 1

// Kind bytes, after the version byte.
const (
	kindProfile = 'P'
	kindLogin   = 'L'
	kindPending = 'D'
)

// ErrCodec is wrapped by decoding errors.
var ErrCodec = errors.New("engine: bad encoding")

// maxSetLen bounds the members of one decoded profile set. The caps in
// profile.go are far below it; the bound only keeps a corrupt value from
// allocating much.
const maxSetLen = 1024

// AppendProfile appends the binary encoding of p to b.
func AppendProfile(b []byte, p *Profile) []byte {
	b = append(b, CodecVersion, kindProfile)
	b = binary.AppendUvarint(b, uint64(p.Logins))
	b = binary.AppendVarint(b, p.FirstSeen)
	b = binary.AppendVarint(b, p.LastSeen)
	b = appendLast(b, &p.Last)
	for _, set := range [...][]Seen{p.Devices, p.Agents, p.Countries, p.Cities, p.ASNs, p.Networks} {
		b = binary.AppendUvarint(b, uint64(len(set)))
		for i := range set {
			b = appendString(b, set[i].Value)
			b = binary.AppendUvarint(b, uint64(set[i].Count))
			// Members are mostly seen near the last login: the delta is
			// a byte or three where the absolute time is five.
			b = binary.AppendVarint(b, p.LastSeen-set[i].Last)
		}
	}
	// Hours: a bitmap of the non-zero hours, then their counts. Most users
	// log in at a handful of hours.
	var mask uint32
	for h, n := range p.Hours {
		if n != 0 {
			mask |= 1 << h
		}
	}
	b = binary.AppendUvarint(b, uint64(mask))
	for _, n := range p.Hours {
		if n != 0 {
			b = binary.AppendUvarint(b, uint64(n))
		}
	}
	return b
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (p *Profile) MarshalBinary() ([]byte, error) { return AppendProfile(nil, p), nil }

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It reuses p's
// slices.
func (p *Profile) UnmarshalBinary(data []byte) error { return UnmarshalProfile(data, p) }

// UnmarshalProfile decodes data into p, reusing p's slice capacity. On error
// p is left empty.
func UnmarshalProfile(data []byte, p *Profile) error {
	old := *p
	p.reuse(&old)
	d := decoder{b: data}
	d.header(kindProfile)
	p.Logins = d.u32()
	p.FirstSeen = d.varint()
	p.LastSeen = d.varint()
	d.last(&p.Last)
	for _, set := range [...]*[]Seen{&p.Devices, &p.Agents, &p.Countries, &p.Cities, &p.ASNs, &p.Networks} {
		n := d.count(3) // a member takes at least three bytes
		for range n {
			var s Seen
			s.Value = d.string()
			s.Count = d.u32()
			s.Last = p.LastSeen - d.varint()
			if d.err != nil {
				break
			}
			*set = append(*set, s)
		}
	}
	mask := d.uvarint()
	if mask >= 1<<24 {
		d.fail("hour mask %#x", mask)
	}
	for h := range p.Hours {
		if mask&(1<<h) != 0 {
			p.Hours[h] = d.u32()
		}
	}
	if err := d.finish(); err != nil {
		old = *p
		p.reuse(&old)
		return fmt.Errorf("profile: %w", err)
	}
	return nil
}

// AppendLogin appends the binary encoding of l to b.
func AppendLogin(b []byte, l *Login) []byte {
	b = append(b, CodecVersion, kindLogin)
	return appendLogin(b, l)
}

// UnmarshalLogin decodes data into l.
func UnmarshalLogin(data []byte, l *Login) error {
	d := decoder{b: data}
	d.header(kindLogin)
	d.login(l)
	if err := d.finish(); err != nil {
		*l = Login{}
		return fmt.Errorf("login: %w", err)
	}
	return nil
}

// AppendPending appends the binary encoding of p to b.
func AppendPending(b []byte, p *Pending) []byte {
	b = append(b, CodecVersion, kindPending)
	b = appendString(b, p.DecisionID)
	b = append(b, byte(p.Action), byte(p.Result))
	b = appendEvent(b, &p.Event)
	return appendLogin(b, &p.Login)
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (p *Pending) MarshalBinary() ([]byte, error) { return AppendPending(nil, p), nil }

// UnmarshalBinary implements encoding.BinaryUnmarshaler.
func (p *Pending) UnmarshalBinary(data []byte) error { return UnmarshalPending(data, p) }

// UnmarshalPending decodes data into p.
func UnmarshalPending(data []byte, p *Pending) error {
	d := decoder{b: data}
	d.header(kindPending)
	p.DecisionID = d.string()
	p.Action = Action(d.byte())
	p.Result = Result(d.byte())
	d.event(&p.Event)
	d.login(&p.Login)
	if err := d.finish(); err != nil {
		*p = Pending{}
		return fmt.Errorf("pending: %w", err)
	}
	return nil
}

// Presence bits for optional parts.
const (
	bitUser = 1 << iota
	bitAccount
	bitUsername
	bitPassword
	bitDevice
	bitAttempt
	bitFailed
	bitLocation
)

func appendLogin(b []byte, l *Login) []byte {
	var flags byte
	if !l.User.IsZero() {
		flags |= bitUser
	}
	if !l.Device.IsZero() {
		flags |= bitDevice
	}
	if l.HasLocation {
		flags |= bitLocation
	}
	b = append(b, flags)
	b = appendString(b, l.Tenant)
	if flags&bitUser != 0 {
		b = append(b, l.User[:]...)
	}
	b = appendTime(b, l.Time)
	b = appendAddr(b, l.IP)
	b = appendPrefix(b, l.Subnet)
	if flags&bitDevice != 0 {
		b = append(b, l.Device[:]...)
	}
	b = appendString(b, l.Agent)
	b = appendString(b, l.Country)
	b = appendString(b, l.City)
	if l.HasLocation {
		b = appendFloat(b, l.Lat)
		b = appendFloat(b, l.Lon)
		b = appendFloat(b, l.AccuracyKM)
	} else {
		// Keep the values even without the flag, so that any Login round
		// trips; they are almost always zero, one byte each.
		b = appendOptFloat(b, l.Lat)
		b = appendOptFloat(b, l.Lon)
		b = appendOptFloat(b, l.AccuracyKM)
	}
	return binary.AppendUvarint(b, uint64(l.ASN))
}

func appendEvent(b []byte, ev *Event) []byte {
	var flags byte
	for i, k := range [...]*Key{&ev.User, &ev.Account, &ev.Username, &ev.Password} {
		if !k.IsZero() {
			flags |= 1 << i
		}
	}
	if ev.Attempt {
		flags |= bitAttempt
	}
	if ev.Failed {
		flags |= bitFailed
	}
	b = append(b, flags)
	b = appendString(b, ev.Tenant)
	b = appendTime(b, ev.Time)
	for i, k := range [...]*Key{&ev.User, &ev.Account, &ev.Username, &ev.Password} {
		if flags&(1<<i) != 0 {
			b = append(b, k[:]...)
		}
	}
	b = appendAddr(b, ev.IP)
	b = appendPrefix(b, ev.Subnet)
	return binary.AppendUvarint(b, uint64(ev.ASN))
}

func appendLast(b []byte, l *LastLogin) []byte {
	b = binary.AppendVarint(b, l.Time)
	b = appendAddr(b, l.IP)
	b = appendString(b, l.Country)
	b = appendString(b, l.City)
	if !l.HasLocation {
		b = append(b, 0)
		b = appendOptFloat(b, l.Lat)
		b = appendOptFloat(b, l.Lon)
		return appendOptFloat(b, l.AccuracyKM)
	}
	b = append(b, 1)
	b = appendFloat(b, l.Lat)
	b = appendFloat(b, l.Lon)
	return appendFloat(b, l.AccuracyKM)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// appendAddr writes the address's binary form (0, 4 or 16 bytes, plus a
// zone) behind its length.
func appendAddr(b []byte, a netip.Addr) []byte {
	n := len(b)
	b = append(b, 0)
	b, _ = a.AppendBinary(b) // never fails
	b[n] = byte(len(b) - n - 1)
	return b
}

func appendPrefix(b []byte, p netip.Prefix) []byte {
	if !p.IsValid() {
		return append(b, 0)
	}
	b = append(b, byte(p.Bits()+1))
	return appendAddr(b, p.Addr())
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// appendOptFloat writes 0 for zero and 1 followed by the value otherwise.
func appendOptFloat(b []byte, f float64) []byte {
	if math.Float64bits(f) == 0 {
		return append(b, 0)
	}
	return appendFloat(append(b, 1), f)
}

// decoder reads an encoding, remembering the first error; reads after an
// error return zero values, so callers check once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCodec}, args...)...)
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
	if v := d.byte(); v != CodecVersion && d.err == nil {
		d.fail("version %d, want %d", v, CodecVersion)
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
	return string(d.bytes(int(v)))
}

func (d *decoder) key(k *Key) {
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
	raw := d.bytes(8)
	if d.err != nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(raw))
}

func (d *decoder) optFloat() float64 {
	switch d.byte() {
	case 0:
		return 0
	case 1:
		return d.float()
	}
	d.fail("bad optional float")
	return 0
}

func (d *decoder) last(l *LastLogin) {
	l.Time = d.varint()
	l.IP = d.addr()
	l.Country = d.string()
	l.City = d.string()
	switch d.byte() {
	case 0:
		l.HasLocation = false
		l.Lat, l.Lon, l.AccuracyKM = d.optFloat(), d.optFloat(), d.optFloat()
	case 1:
		l.HasLocation = true
		l.Lat, l.Lon, l.AccuracyKM = d.float(), d.float(), d.float()
	default:
		d.fail("bad location flag")
	}
}

func (d *decoder) login(l *Login) {
	flags := d.byte()
	if flags&^(bitUser|bitDevice|bitLocation) != 0 {
		d.fail("login flags %#x", flags)
	}
	*l = Login{Tenant: d.string()}
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
	if flags&bitLocation != 0 {
		l.HasLocation = true
		l.Lat, l.Lon, l.AccuracyKM = d.float(), d.float(), d.float()
	} else {
		l.Lat, l.Lon, l.AccuracyKM = d.optFloat(), d.optFloat(), d.optFloat()
	}
	l.ASN = d.u32()
}

func (d *decoder) event(ev *Event) {
	flags := d.byte()
	if flags&^(bitUser|bitAccount|bitUsername|bitPassword|bitAttempt|bitFailed) != 0 {
		d.fail("event flags %#x", flags)
	}
	*ev = Event{Tenant: d.string(), Attempt: flags&bitAttempt != 0, Failed: flags&bitFailed != 0}
	ev.Time = d.time()
	for i, k := range [...]*Key{&ev.User, &ev.Account, &ev.Username, &ev.Password} {
		if flags&(1<<i) != 0 {
			d.key(k)
		}
	}
	ev.IP = d.addr()
	ev.Subnet = d.prefix()
	ev.ASN = d.u32()
}
