package redisstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Binary encodings of engine.Profile, engine.Login and engine.Pending, as
// the store keeps them in Redis. JSON would do, but a profile is
// read on every Score and held for every user, so it is encoded compactly:
// varints, timestamps of set members as deltas from the profile's last
// login, absent keys as bits. Every encoding starts with a format version
// byte and a kind byte, so a reader can refuse what it does not know instead
// of misreading it, and a later format can be introduced beside this one.
//
// Decoders never panic on garbage: every length is checked against what is
// left, and trailing bytes are an error.

// codecVersion is the format version the encode functions write. Readers
// accept every version up to it: version 2 added the profile's growth
// counters (NewDevices, NoDevice, ASNNetworks, AgentVersions) after the
// hours and the login's AgentVersion at its end; a version 1 value decodes
// with them zero, so profiles stored before stay readable. Version 3 added
// the last login's carried fix time (engine.LastLogin.FixTime) at the
// profile's end; older profiles decode with none.
const codecVersion = 3

// Kind bytes, after the version byte (not the batch item kinds of scripts.go).
const (
	codecProfile = 'P'
	codecLogin   = 'L'
	codecPending = 'D'
)

// errCodec is wrapped by decoding errors.
var errCodec = errors.New("redisstore: bad encoding")

// maxSetLen bounds the members of one decoded profile set. The caps in
// profile.go are far below it; the bound only keeps a corrupt value from
// allocating much.
const maxSetLen = 1024

// encodeProfile appends the binary encoding of p to b.
func encodeProfile(b []byte, p *engine.Profile) []byte {
	b = append(b, codecVersion, codecProfile)
	b = binary.AppendUvarint(b, uint64(p.Logins))
	b = binary.AppendVarint(b, p.FirstSeen)
	b = binary.AppendVarint(b, p.LastSeen)
	b = appendLast(b, &p.Last)
	for k, set := range [...][]engine.Seen{p.Devices, p.Agents, p.Countries, p.Cities, p.ASNs, p.Networks} {
		b = binary.AppendUvarint(b, uint64(len(set)))
		for i := range set {
			switch k {
			case setASNs:
				b = appendASN(b, set[i].Value)
			case setNetworks:
				b = appendNetwork(b, set[i].Value)
			default:
				b = appendString(b, set[i].Value)
			}
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
	// Version 2.
	b = binary.AppendUvarint(b, uint64(p.NewDevices))
	b = binary.AppendUvarint(b, uint64(p.NoDevice))
	for k, set := range [...][]engine.Seen{p.ASNNetworks, p.AgentVersions} {
		b = binary.AppendUvarint(b, uint64(len(set)))
		for i := range set {
			if k == 0 {
				b = appendASN(b, set[i].Value)
			} else {
				b = appendString(b, set[i].Value)
			}
			b = binary.AppendUvarint(b, uint64(set[i].Count))
			b = binary.AppendVarint(b, p.LastSeen-set[i].Last)
		}
	}
	// Version 3.
	var age uint64
	if l := &p.Last; l.FixCarried() && l.FixTime < l.Time {
		age = uint64(l.Time - l.FixTime)
	}
	return binary.AppendUvarint(b, age)
}

// decodeProfile decodes data into p, reusing p's slice capacity. On error
// p is left empty.
func decodeProfile(data []byte, p *engine.Profile) error {
	return unmarshalProfile(decoder{b: data}, p)
}

// decodeProfileString is decodeProfile of a string; the profile's
// strings are substrings of data, not copies.
func decodeProfileString(data string, p *engine.Profile) error {
	return unmarshalProfile(stringDecoder(data), p)
}

func unmarshalProfile(d decoder, p *engine.Profile) error {
	p.Reset()
	d.header(codecProfile)
	p.Logins = d.u32()
	p.FirstSeen = d.varint()
	p.LastSeen = d.varint()
	d.last(&p.Last)
	for k, set := range [...]*[]engine.Seen{&p.Devices, &p.Agents, &p.Countries, &p.Cities, &p.ASNs, &p.Networks} {
		n := d.count(3) // a member takes at least three bytes
		for range n {
			var s engine.Seen
			switch k {
			case setASNs:
				s.Value = d.asn()
			case setNetworks:
				s.Value = d.network()
			default:
				s.Value = d.string()
			}
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
	if d.version >= 2 {
		p.NewDevices = d.u32()
		p.NoDevice = d.u32()
		for k, set := range [...]*[]engine.Seen{&p.ASNNetworks, &p.AgentVersions} {
			n := d.count(3)
			for range n {
				var s engine.Seen
				if k == 0 {
					s.Value = d.asn()
				} else {
					s.Value = d.string()
				}
				s.Count = d.u32()
				s.Last = p.LastSeen - d.varint()
				if d.err != nil {
					break
				}
				*set = append(*set, s)
			}
		}
	}
	if d.version >= 3 {
		// How long before the last login its carried fix was seen; 0
		// when the fix is the last login's own.
		if age := d.uvarint(); age != 0 {
			if !p.Last.HasLocation || age > uint64(p.Last.Time) {
				d.fail("carried fix %d s before a last login at %d", age, p.Last.Time)
			}
			p.Last.FixTime = p.Last.Time - int64(age)
		}
	}
	if err := d.finish(); err != nil {
		p.Reset()
		return fmt.Errorf("profile: %w", err)
	}
	return nil
}

// Positions of the profile sets in the encoding.
const (
	setDevices = iota
	setAgents
	setCountries
	setCities
	setASNs
	setNetworks
)

// appendASN writes a decimal ASN as uvarint(asn+1), anything else as 0 and
// the string: the profile keeps ASNs as text for the rules' sake.
func appendASN(b []byte, v string) []byte {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil && strconv.FormatUint(n, 10) == v {
		return binary.AppendUvarint(b, n+1)
	}
	return appendString(append(b, 0), v)
}

// appendNetwork writes a subnet in canonical text form as its bit length
// plus one and its address (5 bytes for a /24 against 16 as text), anything
// else as 0 and the string.
func appendNetwork(b []byte, v string) []byte {
	if p, err := netip.ParsePrefix(v); err == nil && p.String() == v {
		return appendPrefix(b, p)
	}
	return appendString(append(b, 0), v)
}

// encodeLogin appends the binary encoding of l to b.
func encodeLogin(b []byte, l *engine.Login) []byte {
	b = append(b, codecVersion, codecLogin)
	return appendLogin(b, l)
}

// decodeLogin decodes data into l.
func decodeLogin(data []byte, l *engine.Login) error {
	return unmarshalLogin(decoder{b: data}, l)
}

// decodeLoginString is decodeLogin of a string; the login's strings
// are substrings of data, not copies.
func decodeLoginString(data string, l *engine.Login) error {
	return unmarshalLogin(stringDecoder(data), l)
}

func unmarshalLogin(d decoder, l *engine.Login) error {
	d.header(codecLogin)
	d.login(l)
	if err := d.finish(); err != nil {
		*l = engine.Login{}
		return fmt.Errorf("login: %w", err)
	}
	return nil
}

// encodePending appends the binary encoding of p to b.
func encodePending(b []byte, p *engine.Pending) []byte {
	b = append(b, codecVersion, codecPending)
	b = appendString(b, p.DecisionID)
	b = append(b, byte(p.Action), byte(p.Result))
	b = appendEvent(b, &p.Event)
	return appendLogin(b, &p.Login)
}

// decodePending decodes data into p.
func decodePending(data []byte, p *engine.Pending) error {
	d := decoder{b: data}
	d.header(codecPending)
	p.DecisionID = d.string()
	p.Action = engine.Action(d.byte())
	p.Result = engine.Result(d.byte())
	d.event(&p.Event)
	d.login(&p.Login)
	if err := d.finish(); err != nil {
		*p = engine.Pending{}
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

func appendLogin(b []byte, l *engine.Login) []byte {
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
	b = appendFloat(b, l.Lat)
	b = appendFloat(b, l.Lon)
	b = appendFloat(b, l.AccuracyKM)
	b = binary.AppendUvarint(b, uint64(l.ASN))
	return binary.AppendUvarint(b, uint64(l.AgentVersion)) // version 2
}

func appendEvent(b []byte, ev *engine.Event) []byte {
	var flags byte
	for i, k := range [...]*engine.Key{&ev.User, &ev.Account, &ev.Username, &ev.Password} {
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
	for i, k := range [...]*engine.Key{&ev.User, &ev.Account, &ev.Username, &ev.Password} {
		if flags&(1<<i) != 0 {
			b = append(b, k[:]...)
		}
	}
	b = appendAddr(b, ev.IP)
	b = appendPrefix(b, ev.Subnet)
	return binary.AppendUvarint(b, uint64(ev.ASN))
}

func appendLast(b []byte, l *engine.LastLogin) []byte {
	b = binary.AppendVarint(b, l.Time)
	b = appendAddr(b, l.IP)
	b = appendString(b, l.Country)
	b = appendString(b, l.City)
	if l.HasLocation {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
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

// Float forms: zero, a whole number of hundredths (what Learn keeps of
// coordinates, and whole kilometres of accuracy) as a zig-zag varint, or
// the raw bits.
const (
	floatZero = iota
	floatHundredths
	floatRaw
)

func appendFloat(b []byte, f float64) []byte {
	if math.Float64bits(f) == 0 {
		return append(b, floatZero)
	}
	if h := math.Round(f * 100); math.Abs(h) < 1<<50 && math.Float64bits(float64(int64(h))/100) == math.Float64bits(f) {
		return binary.AppendVarint(append(b, floatHundredths), int64(h))
	}
	return binary.LittleEndian.AppendUint64(append(b, floatRaw), math.Float64bits(f))
}
