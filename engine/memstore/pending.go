package memstore

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"net/netip"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/heldqueue"
)

// Decisions pending their outcome are held encoded, in a heldqueue per
// shard: as engine.Pending values (strings, an LRU element and a map entry
// each) a node's hundreds of thousands of them were most of the pointers
// a collection traced, and the collector's mark phase was the p99 of a
// loaded node (benchmarks/README.md, 2026-12-05).
//
// Layout of a pending form (fixed-width little-endian where no size is
// given; str is a uvarint length and the bytes; addr is a length byte
// and netip.Addr.AppendBinary's; prefix is its bits+1, or 0 for none,
// and its address):
//
//	tenant hash 8, login user 16 (first, for Forget to read)
//	action 1, result 1, flags 1 (pendAttempt, pendFailed, pendLocated, pendCoords)
//	decision id str, event tenant str, login tenant str
//	event: time (unix seconds 8, nanoseconds 4), user, account, username,
//	       password, attempt id (16 each), ip addr, subnet prefix, asn 4
//	login: time, device 16, ip addr, subnet prefix, agent str,
//	       agent version 2, country str, city str,
//	       [lat, lon, accuracy_km: 8-byte IEEE 754 each, when pendCoords], asn 4

const (
	pendAttempt = 1 << iota
	pendFailed
	pendLocated // Login.HasLocation
	pendCoords  // Login.Lat, Lon or AccuracyKM not zero
)

// pendingKey is the key of a tenant's decision in its shard's queue,
// and the first 8 bytes (as a number) pick the shard.
func (s *Store) pendingKey(th tenantHash, id string) heldqueue.Key {
	return queueKey(th, maphash.String(s.seed, id), maphash.String(s.pendSeed, id))
}

// queueKey is the heldqueue key of a 128-bit id (lo, hi) in tenant th:
// the tenant's hash is mixed into both halves, so two tenants' ids of
// one value differ in either.
func queueKey(th tenantHash, lo, hi uint64) heldqueue.Key {
	var k heldqueue.Key
	binary.LittleEndian.PutUint64(k[:8], lo^uint64(th))
	binary.LittleEndian.PutUint64(k[8:], hi^bits.RotateLeft64(uint64(th), 32))
	return k
}

func (s *Store) shardForPending(k *heldqueue.Key) *shard {
	return &s.shards[binary.LittleEndian.Uint64(k[:8])%uint64(len(s.shards))]
}

func appendPending(b []byte, th tenantHash, p *engine.Pending) []byte {
	ev, l := &p.Event, &p.Login
	b = binary.LittleEndian.AppendUint64(b, uint64(th))
	b = append(b, l.User[:]...)
	var flags byte
	if ev.Attempt {
		flags |= pendAttempt
	}
	if ev.Failed {
		flags |= pendFailed
	}
	if l.HasLocation {
		flags |= pendLocated
	}
	coords := l.Lat != 0 || l.Lon != 0 || l.AccuracyKM != 0
	if coords {
		flags |= pendCoords
	}
	b = append(b, byte(p.Action), byte(p.Result), flags)
	b = appendStr(b, p.DecisionID)
	b = appendStr(b, ev.Tenant)
	b = appendStr(b, l.Tenant)
	b = appendInstant(b, ev.Time)
	for _, k := range [...]*engine.Key{&ev.User, &ev.Account, &ev.Username, &ev.Password, &ev.AttemptID} {
		b = append(b, k[:]...)
	}
	b = appendAddr(b, ev.IP)
	b = appendPrefix(b, ev.Subnet)
	b = binary.LittleEndian.AppendUint32(b, ev.ASN)
	b = appendInstant(b, l.Time)
	b = append(b, l.Device[:]...)
	b = appendAddr(b, l.IP)
	b = appendPrefix(b, l.Subnet)
	b = appendStr(b, l.Agent)
	b = binary.LittleEndian.AppendUint16(b, l.AgentVersion)
	b = appendStr(b, l.Country)
	b = appendStr(b, l.City)
	if coords {
		b = appendF64(appendF64(appendF64(b, l.Lat), l.Lon), l.AccuracyKM)
	}
	return binary.LittleEndian.AppendUint32(b, l.ASN)
}

func appendInstant(b []byte, t time.Time) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.LittleEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

// appendAddr writes a's length, then a (none for the zero Addr).
func appendAddr(b []byte, a netip.Addr) []byte {
	n := len(b)
	b, _ = a.AppendBinary(append(b, 0)) // never fails
	b[n] = byte(len(b) - n - 1)
	return b
}

func appendPrefix(b []byte, p netip.Prefix) []byte {
	if !p.IsValid() {
		return append(b, 0)
	}
	return appendAddr(append(b, byte(p.Bits()+1)), p.Addr())
}

// pendingOwner reads the tenant hash and login user a pending form
// starts with.
func pendingOwner(form []byte) (tenantHash, engine.Key, bool) {
	if len(form) < 24 {
		return 0, engine.Key{}, false
	}
	return tenantHash(binary.LittleEndian.Uint64(form)), engine.Key(form[8:24]), true
}

// decodePending fills p from form; p's strings point into form, which
// the caller must not modify after.
func decodePending(form []byte, p *engine.Pending) error {
	d := decoder{b: form}
	*p = engine.Pending{}
	ev, l := &p.Event, &p.Login
	d.bytes(8)
	d.key(&l.User)
	action, _ := d.byte()
	result, _ := d.byte()
	flags, _ := d.byte()
	p.Action, p.Result = engine.Action(action), engine.Result(result)
	ev.Attempt, ev.Failed, l.HasLocation = flags&pendAttempt != 0, flags&pendFailed != 0, flags&pendLocated != 0
	p.DecisionID = d.str()
	ev.Tenant = d.str()
	l.Tenant = d.str()
	ev.Time = d.instant()
	for _, k := range [...]*engine.Key{&ev.User, &ev.Account, &ev.Username, &ev.Password, &ev.AttemptID} {
		d.key(k)
	}
	ev.IP = d.addr()
	ev.Subnet = d.prefix()
	ev.ASN = d.fixed32()
	l.Time = d.instant()
	d.key(&l.Device)
	l.IP = d.addr()
	l.Subnet = d.prefix()
	l.Agent = d.str()
	if v := d.bytes(2); v != nil {
		l.AgentVersion = binary.LittleEndian.Uint16(v)
	}
	l.Country = d.str()
	l.City = d.str()
	if flags&pendCoords != 0 {
		l.Lat, l.Lon, l.AccuracyKM = d.f64(), d.f64(), d.f64()
	}
	l.ASN = d.fixed32()
	if d.err == nil && (d.i != len(d.b) || flags>>4 != 0) {
		d.fail()
	}
	if d.err != nil {
		*p = engine.Pending{}
	}
	return d.err
}

func (d *decoder) key(k *engine.Key) {
	if v := d.bytes(len(k)); v != nil {
		*k = engine.Key(v)
	}
}

func (d *decoder) fixed32() uint32 {
	if v := d.bytes(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) instant() time.Time {
	v := d.bytes(12)
	if v == nil {
		return time.Time{}
	}
	ns := binary.LittleEndian.Uint32(v[8:])
	if ns >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(int64(binary.LittleEndian.Uint64(v)), int64(ns))
}

func (d *decoder) addr() netip.Addr {
	n, ok := d.byte()
	if !ok {
		return netip.Addr{}
	}
	var a netip.Addr
	if err := a.UnmarshalBinary(d.bytes(int(n))); err != nil || a.Zone() != "" {
		d.fail() // the engine refuses zones: a form has none
	}
	return a
}

func (d *decoder) prefix() netip.Prefix {
	bits, ok := d.byte()
	if !ok || bits == 0 {
		return netip.Prefix{}
	}
	a := d.addr()
	p := netip.PrefixFrom(a, int(bits)-1)
	if !p.IsValid() && d.err == nil {
		d.fail()
	}
	return p
}
