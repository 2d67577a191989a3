package redisstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

func testKey(s string) engine.Key {
	var k engine.Key
	copy(k[:], s)
	k[15] = 0x5a
	return k
}

// sampleProfile is a typical profile: a few devices, two countries, a
// handful of hours, built by the real learning code.
func sampleProfile() engine.Profile {
	var p engine.Profile
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	places := []struct{ cc, city string }{{"FR", "Paris"}, {"FR", "Lyon"}, {"DE", "Berlin"}}
	for i := range 40 {
		ip := netip.AddrFrom4([4]byte{198, 51, byte(100 + i%3), 20})
		pl := places[i%len(places)]
		l := engine.Login{
			Tenant: "acme", User: testKey("user"), Time: at.Add(time.Duration(i) * 19 * time.Hour),
			IP: ip, Subnet: engine.SubnetOf(ip), Device: testKey(fmt.Sprintf("dev%d", i%3)), Agent: "chrome/windows", AgentVersion: uint16(140 + i/10),
			Country: pl.cc, City: pl.city, HasLocation: true, Lat: 48.8566, Lon: 2.3522, AccuracyKM: 20, ASN: uint32(3215 + i%2),
		}
		p.Learn(&l)
	}
	return p
}

func samplePending() engine.Pending {
	ip := netip.MustParseAddr("2001:db8:aa:1::7")
	return engine.Pending{
		DecisionID: "01JDECISION0000000000000001", Action: engine.ActionStepUp, Result: engine.ResultPasswordOK,
		Event: engine.Event{
			Tenant: "acme", Time: time.Date(2026, 3, 2, 8, 0, 0, 123456789, time.UTC), User: testKey("u"), Account: testKey("u"),
			Username: testKey("n"), Password: testKey("p"), IP: ip, Subnet: engine.SubnetOf(ip), ASN: 64500, Failed: true,
		},
		Login: engine.Login{
			Tenant: "acme", User: testKey("u"), Time: time.Date(2026, 3, 2, 8, 0, 0, 123456789, time.UTC), IP: ip, Subnet: engine.SubnetOf(ip),
			Device: testKey("d"), Agent: "firefox/linux", AgentVersion: 132, Country: "DE", City: "Berlin", HasLocation: true, Lat: 52.52, Lon: 13.405, AccuracyKM: 50, ASN: 64500,
		},
	}
}

// profileEqual compares profiles treating nil and empty sets alike and
// floats by their bits (so NaN equals itself).
func profileEqual(a, b *engine.Profile) bool {
	sets := func(p *engine.Profile) [8][]engine.Seen {
		return [8][]engine.Seen{p.Devices, p.Agents, p.Countries, p.Cities, p.ASNs, p.Networks, p.ASNNetworks, p.AgentVersions}
	}
	sa, sb := sets(a), sets(b)
	for i := range sa {
		if len(sa[i]) != len(sb[i]) || len(sa[i]) > 0 && !reflect.DeepEqual(sa[i], sb[i]) {
			return false
		}
	}
	x, y := *a, *b
	x.Devices, x.Agents, x.Countries, x.Cities, x.ASNs, x.Networks, x.ASNNetworks, x.AgentVersions = nil, nil, nil, nil, nil, nil, nil, nil
	y.Devices, y.Agents, y.Countries, y.Cities, y.ASNs, y.Networks, y.ASNNetworks, y.AgentVersions = nil, nil, nil, nil, nil, nil, nil, nil
	fx := [3]uint64{math.Float64bits(x.Last.Lat), math.Float64bits(x.Last.Lon), math.Float64bits(x.Last.AccuracyKM)}
	fy := [3]uint64{math.Float64bits(y.Last.Lat), math.Float64bits(y.Last.Lon), math.Float64bits(y.Last.AccuracyKM)}
	x.Last.Lat, x.Last.Lon, x.Last.AccuracyKM = 0, 0, 0
	y.Last.Lat, y.Last.Lon, y.Last.AccuracyKM = 0, 0, 0
	return fx == fy && reflect.DeepEqual(x, y)
}

func TestProfileRoundTrip(t *testing.T) {
	p := sampleProfile()
	b := encodeProfile(nil, &p)
	var q engine.Profile
	if err := decodeProfile(b, &q); err != nil {
		t.Fatal(err)
	}
	if !profileEqual(&p, &q) {
		t.Errorf("round trip:\n got %+v\nwant %+v", q, p)
	}
	if len(p.Devices) != 3 || len(p.Countries) != 2 || len(p.Cities) != 3 {
		t.Fatalf("sample profile is not what the size below assumes: %+v", p)
	}
	// A typical profile stays small; JSON of the same is several times
	// larger. The bound guards against an accidental regression.
	if len(b) > 300 {
		t.Errorf("typical profile encodes to %d bytes, want at most 300", len(b))
	}
	t.Logf("typical profile: %d bytes", len(b))

	// Decoding into a used profile replaces everything and reuses slices.
	q.Devices = append(q.Devices, engine.Seen{Value: "stale"})
	if err := decodeProfile(b, &q); err != nil || !profileEqual(&p, &q) {
		t.Errorf("decode into a used profile: %v %+v", err, q)
	}
	var empty engine.Profile
	if err := decodeProfile(encodeProfile(nil, &engine.Profile{}), &empty); err != nil || !profileEqual(&empty, &engine.Profile{}) {
		t.Errorf("empty profile: %v %+v", err, empty)
	}
}

func TestPendingRoundTrip(t *testing.T) {
	for _, p := range []engine.Pending{samplePending(), {}, {DecisionID: "x", Event: engine.Event{Tenant: "t", IP: netip.MustParseAddr("fe80::1%eth0")}}} {
		b := encodePending(nil, &p)
		var q engine.Pending
		if err := decodePending(b, &q); err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if !pendingEqual(p, q) {
			t.Errorf("round trip:\n got %+v\nwant %+v", q, p)
		}
	}
}

func TestLoginRoundTrip(t *testing.T) {
	for _, l := range []engine.Login{samplePending().Login, {}, {Lat: 1.5, Time: time.Unix(-5, 7).UTC()}} {
		var got engine.Login
		if err := decodeLogin(encodeLogin(nil, &l), &got); err != nil {
			t.Fatal(err)
		}
		if !got.Time.Equal(l.Time) {
			t.Errorf("time %v, want %v", got.Time, l.Time)
		}
		got.Time, l.Time = time.Time{}, time.Time{}
		if got != l {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, l)
		}
	}
}

func pendingEqual(a, b engine.Pending) bool {
	if !a.Event.Time.Equal(b.Event.Time) || !a.Login.Time.Equal(b.Login.Time) {
		return false
	}
	a.Event.Time, b.Event.Time, a.Login.Time, b.Login.Time = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	fa := [3]uint64{math.Float64bits(a.Login.Lat), math.Float64bits(a.Login.Lon), math.Float64bits(a.Login.AccuracyKM)}
	fb := [3]uint64{math.Float64bits(b.Login.Lat), math.Float64bits(b.Login.Lon), math.Float64bits(b.Login.AccuracyKM)}
	a.Login.Lat, a.Login.Lon, a.Login.AccuracyKM = 0, 0, 0
	b.Login.Lat, b.Login.Lon, b.Login.AccuracyKM = 0, 0, 0
	return fa == fb && a == b
}

// TestCodecReadsOlderVersions decodes values written before version 2 (no
// growth counters, no agent version) and before version 3 (no carried
// fix): stored profiles and queued logins must stay readable after an
// upgrade.
func TestCodecReadsOlderVersions(t *testing.T) {
	p := sampleProfile()
	if len(p.ASNNetworks) == 0 || len(p.AgentVersions) == 0 || p.NewDevices == 0 {
		t.Fatalf("sample profile lacks version-2 fields: %+v", p)
	}
	// Version 2 is version 3 without the carried fix's age, one zero byte
	// when the last login's fix is its own.
	v3 := encodeProfile(nil, &p)
	v2 := append([]byte{2}, v3[1:len(v3)-1]...)
	var q engine.Profile
	if err := decodeProfile(v2, &q); err != nil || !profileEqual(&p, &q) {
		t.Errorf("version-2 profile: %v\n got %+v\nwant %+v", err, q, p)
	}
	p.NewDevices, p.NoDevice, p.ASNNetworks, p.AgentVersions = 0, 0, nil, nil
	v3 = encodeProfile(nil, &p)
	// Version 1 is version 3 without the four trailing fields of version
	// 2 and the one of version 3, which are one zero byte each here.
	v1 := append([]byte{1}, v3[1:len(v3)-5]...)
	if err := decodeProfile(v1, &q); err != nil || !profileEqual(&p, &q) {
		t.Errorf("version-1 profile: %v\n got %+v\nwant %+v", err, q, p)
	}
	l := samplePending().Login
	l.AgentVersion = 0
	b := encodeLogin(nil, &l)
	v1 = append([]byte{1}, b[1:len(b)-1]...)
	var got engine.Login
	if err := decodeLogin(v1, &got); err != nil || !got.Time.Equal(l.Time) || got.Agent != l.Agent || got.ASN != l.ASN {
		t.Errorf("version-1 login: %v %+v", err, got)
	}
	// And a version-2 reader refuses a version-1 value with version-2
	// fields after it: they are trailing garbage there.
	if err := decodeLogin(append(v1, 7), &got); !errors.Is(err, errCodec) {
		t.Errorf("version-1 login with trailing bytes: %v", err)
	}
}

// TestCodecCarriedFix round-trips a last login whose location is an
// earlier login's, and refuses a carried fix on a last login without a
// location or older than the epoch.
func TestCodecCarriedFix(t *testing.T) {
	p := sampleProfile()
	p.Last.FixTime = p.Last.Time - 3*3600
	b := encodeProfile(nil, &p)
	var q engine.Profile
	if err := decodeProfile(b, &q); err != nil || !profileEqual(&p, &q) || q.Last.FixTime != p.Last.FixTime {
		t.Fatalf("carried fix: %v\n got %+v\nwant %+v", err, q.Last, p.Last)
	}
	for name, mutate := range map[string]func(*engine.Profile){
		"no location": func(p *engine.Profile) { p.Last.HasLocation = false },
		"before 1970": func(p *engine.Profile) {},
	} {
		r := sampleProfile()
		age := uint64(3 * 3600)
		mutate(&r)
		if name == "before 1970" {
			age = uint64(r.Last.Time) + 1
		}
		b := encodeProfile(nil, &r) // ends in a zero age byte
		b = binary.AppendUvarint(b[:len(b)-1], age)
		if err := decodeProfile(b, &q); !errors.Is(err, errCodec) {
			t.Errorf("%s: err = %v, want errCodec", name, err)
		}
	}
}

func TestCodecRejects(t *testing.T) {
	good := encodeProfile(nil, new(sampleProfile()))
	cases := map[string][]byte{
		"empty":          nil,
		"future version": append([]byte{codecVersion + 1}, good[1:]...),
		"wrong kind":     encodePending(nil, new(samplePending())),
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte(nil), good...), 0),
	}
	for name, b := range cases {
		var p engine.Profile
		if err := decodeProfile(b, &p); !errors.Is(err, errCodec) {
			t.Errorf("%s: err = %v, want errCodec", name, err)
		}
		if !profileEqual(&p, &engine.Profile{}) {
			t.Errorf("%s: profile not left empty: %+v", name, p)
		}
	}
	var p engine.Pending
	if err := decodePending(good, &p); !errors.Is(err, errCodec) {
		t.Errorf("profile decoded as a pending decision: %v", err)
	}
}

// TestCodecTruncations decodes every prefix of valid encodings: each must
// fail cleanly.
func TestCodecTruncations(t *testing.T) {
	prof := encodeProfile(nil, new(sampleProfile()))
	pend := encodePending(nil, new(samplePending()))
	for i := range len(prof) {
		var p engine.Profile
		if decodeProfile(prof[:i], &p) == nil {
			t.Errorf("profile prefix of %d bytes decoded", i)
		}
	}
	for i := range len(pend) {
		var p engine.Pending
		if decodePending(pend[:i], &p) == nil {
			t.Errorf("pending prefix of %d bytes decoded", i)
		}
	}
}

func FuzzProfile(f *testing.F) {
	f.Add(encodeProfile(nil, new(sampleProfile())))
	f.Add(encodeProfile(nil, &engine.Profile{}))
	f.Add([]byte{codecVersion, codecProfile, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	r := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		b := encodeProfile(nil, new(sampleProfile()))
		b[2+r.IntN(len(b)-2)] ^= byte(1 + r.IntN(255))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p engine.Profile
		if err := decodeProfile(data, &p); err != nil {
			return
		}
		// Whatever decodes re-encodes to a canonical form that decodes to
		// the same profile and re-encodes to the same bytes.
		b1 := encodeProfile(nil, &p)
		var q engine.Profile
		if err := decodeProfile(b1, &q); err != nil {
			t.Fatalf("re-decoding a re-encoding: %v", err)
		}
		if !profileEqual(&p, &q) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", q, p)
		}
		if b2 := encodeProfile(nil, &q); !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable:\n%x\n%x", b1, b2)
		}
	})
}

func FuzzPending(f *testing.F) {
	f.Add(encodePending(nil, new(samplePending())))
	f.Add(encodePending(nil, &engine.Pending{}))
	f.Add(encodeLogin(nil, &engine.Login{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p engine.Pending
		if err := decodePending(data, &p); err == nil {
			b1 := encodePending(nil, &p)
			var q engine.Pending
			if err := decodePending(b1, &q); err != nil {
				t.Fatalf("re-decoding a re-encoding: %v", err)
			}
			if !pendingEqual(p, q) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", q, p)
			}
		}
		var l engine.Login
		if err := decodeLogin(data, &l); err == nil {
			var m engine.Login
			if err := decodeLogin(encodeLogin(nil, &l), &m); err != nil {
				t.Fatalf("re-decoding a login: %v", err)
			}
			if !m.Time.Equal(l.Time) || !bytes.Equal(encodeLogin(nil, &l), encodeLogin(nil, &m)) {
				t.Fatalf("login round trip:\n got %+v\nwant %+v", m, l)
			}
		}
	})
}

// TestStringDecoders: decoding a string gives what decoding its bytes
// gives, with the profile's strings taken from the input rather than
// copied, and rejects the same garbage.
func TestStringDecoders(t *testing.T) {
	p := sampleProfile()
	enc := string(encodeProfile(nil, &p))
	var got engine.Profile
	if err := decodeProfileString(enc, &got); err != nil {
		t.Fatal(err)
	}
	if !profileEqual(&got, &p) {
		t.Errorf("profile from a string:\n got %+v\nwant %+v", got, p)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := decodeProfileString(enc, &got); err != nil {
			t.Fatal(err)
		}
	})
	encBytes := []byte(enc)
	byteAllocs := testing.AllocsPerRun(100, func() {
		if err := decodeProfile(encBytes, &got); err != nil {
			t.Fatal(err)
		}
	})
	// Set members are substrings (decimal ASNs and networks are still
	// formatted from their binary form).
	if want := byteAllocs - float64(len(p.Devices)+len(p.Agents)+len(p.Countries)+len(p.Cities)); allocs > want {
		t.Errorf("%.0f allocations decoding a profile from a string, %.0f from bytes: want at most %.0f", allocs, byteAllocs, want)
	}
	l := engine.Login{Tenant: "t", User: testKey("u"), Country: "FR", City: "Paris", Agent: "chrome/windows"}
	var gl engine.Login
	if err := decodeLoginString(string(encodeLogin(nil, &l)), &gl); err != nil || gl != l {
		t.Errorf("login from a string: %+v, %v", gl, err)
	}
	for i := range len(enc) {
		if decodeProfileString(enc[:i], &got) == nil {
			t.Errorf("a profile truncated to %d bytes decoded", i)
		}
	}
}
