package memstore

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// randomProfile learns n random logins, drawn so that every set fills and
// overflows its cap sometimes.
func randomProfile(r *rand.Rand, n int) engine.Profile {
	var p engine.Profile
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range n {
		at = at.Add(time.Duration(r.IntN(100_000)) * time.Second)
		ip := netip.AddrFrom4([4]byte{81, byte(r.IntN(40)), byte(r.IntN(3)), 7})
		if r.IntN(5) == 0 {
			ip = netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::1", r.IntN(40)))
		}
		l := engine.Login{Tenant: "t", Time: at, IP: ip, Subnet: engine.SubnetOf(ip), ASN: uint32(r.IntN(30)),
			Agent: []string{"", "chrome/windows", "safari/ios"}[r.IntN(3)], Country: []string{"", "FR", "DE", "JP"}[r.IntN(4)],
			City: []string{"", "Paris", "Zürich", "東京"}[r.IntN(4)], HasLocation: r.IntN(2) == 0, Lat: r.Float64()*180 - 90, Lon: r.Float64()*360 - 180,
			AccuracyKM: float64(r.IntN(500)), AgentVersion: uint16(r.IntN(3) * 60)}
		if r.IntN(4) != 0 {
			l.Device[0], l.Device[1] = byte(r.IntN(30)), 1
		}
		p.Learn(&l)
	}
	return p
}

// same compares profiles, an empty set equal to a missing one.
func same(a, b *engine.Profile) bool {
	norm := func(p engine.Profile) engine.Profile {
		for _, s := range []*[]engine.Seen{&p.Devices, &p.Agents, &p.Countries, &p.Cities, &p.ASNs, &p.Networks, &p.ASNNetworks, &p.AgentVersions} {
			if len(*s) == 0 {
				*s = nil
			}
		}
		return p
	}
	return reflect.DeepEqual(norm(*a), norm(*b))
}

func TestProfileEncodingRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var reused engine.Profile // decoded into again and again, as a Score's state is
	for i := range 2000 {
		p := randomProfile(r, r.IntN(80))
		blob := encodeProfile(nil, &p)
		if err := decodeProfile(blob, &reused); err != nil {
			t.Fatalf("profile %d: %v", i, err)
		}
		if !same(&p, &reused) {
			t.Fatalf("profile %d does not round-trip:\n got %+v\nwant %+v", i, reused, p)
		}
	}
	var empty engine.Profile
	if err := decodeProfile(encodeProfile(nil, &empty), &reused); err != nil || !same(&empty, &reused) {
		t.Errorf("empty profile: %v %+v", err, reused)
	}
	// Times that need 64 bits (a replay of odd dates) take the wide form.
	odd := randomProfile(r, 10)
	odd.FirstSeen, odd.Devices = -86400*365*100, append(odd.Devices, engine.Seen{Value: "x", Count: 1, Last: 1 << 40})
	if err := decodeProfile(encodeProfile(nil, &odd), &reused); err != nil || !same(&odd, &reused) {
		t.Errorf("profile with 64-bit times: %v\n got %+v\nwant %+v", err, reused, odd)
	}
}

// TestProfileBlobIsCompact: what the encoding is for.
func TestProfileBlobIsCompact(t *testing.T) {
	ip := netip.MustParseAddr("81.2.69.160")
	l := engine.Login{Tenant: "t", Time: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), IP: ip, Subnet: engine.SubnetOf(ip), Device: engine.Key{1},
		Agent: "chrome/windows", Country: "FR", City: "Paris", ASN: 3215, HasLocation: true, Lat: 48.86, Lon: 2.35, AccuracyKM: 20}
	var p engine.Profile
	for range 5 {
		p.Learn(&l)
	}
	if n := len(encodeProfile(nil, &p)); n > 192 {
		t.Errorf("an ordinary profile encodes to %d bytes, want at most 192", n)
	}
}

func FuzzDecodeProfile(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 8 {
		p := randomProfile(r, 20)
		f.Add(encodeProfile(nil, &p))
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		var p engine.Profile
		if decodeProfile(blob, &p) != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		if got := encodeProfile(nil, &p); string(got) != string(blob) {
			t.Skip("non-canonical varints decode too") // e.g. 0x80 0x00 for 0
		}
	})
}

// BenchmarkProfileCodec is what a Score of a known user costs in the
// encoding: a decode for Observe, and a decode and an encode for the
// login it learns.
func BenchmarkProfileCodec(b *testing.B) {
	p := randomProfile(rand.New(rand.NewPCG(9, 9)), 12)
	blob := encodeProfile(nil, &p)
	var q engine.Profile
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		_ = decodeProfile(blob, &q)
		_ = decodeProfile(blob, &q)
		buf = encodeProfile(buf[:0], &q)
	}
}

// TestTimeWidthMatchesSimple holds the encoder's choice of time width
// (its first byte: times or-ed while written with 4 bytes, written again
// with 8 when the or does not fit) to the simple test, time by time, at
// the edges of 32 unsigned bits and at random, and the blob to the
// model's (which takes the simple test).
func TestTimeWidthMatchesSimple(t *testing.T) {
	simple := func(p *engine.Profile) int {
		fits := func(t int64) bool { return t >= 0 && t <= math.MaxUint32 }
		ok := fits(p.FirstSeen) && fits(p.LastSeen) && fits(p.Last.Time) && fits(p.Last.FixTime)
		for _, set := range profileSets(p) {
			for i := range set {
				ok = ok && fits(set[i].Last)
			}
		}
		if ok {
			return 4
		}
		return 8
	}
	edges := []int64{0, 1, math.MaxUint32 - 1, math.MaxUint32, math.MaxUint32 + 1, -1, math.MinInt64, math.MaxInt64, 1 << 32, 1 << 40, 1_780_000_000}
	r := rand.New(rand.NewPCG(5, 6))
	pick := func() int64 {
		if r.IntN(3) == 0 {
			return edges[r.IntN(len(edges))]
		}
		return r.Int64N(1 << 31)
	}
	for range 20000 {
		p := &engine.Profile{FirstSeen: pick(), LastSeen: pick()}
		p.Last.Time, p.Last.FixTime = pick(), pick()
		for range r.IntN(4) {
			p.Devices = append(p.Devices, engine.Seen{Last: pick()})
			p.AgentVersions = append(p.AgentVersions, engine.Seen{Last: pick()})
		}
		if r.IntN(2) == 0 { // mostly fitting, so that the one time that does not decides
			for _, v := range []*int64{&p.FirstSeen, &p.LastSeen, &p.Last.Time, &p.Last.FixTime} {
				*v &= math.MaxUint32
			}
		}
		blob := encodeProfile([]byte("xy"), p)
		if got, want := int(blob[2]), simple(p); got != want {
			t.Fatalf("encodeProfile(%+v) takes a width of %d, the simple form %d", p, got, want)
		}
		if m := modelEncodeProfile(nil, p); !bytes.Equal(blob[2:], m) || string(blob[:2]) != "xy" {
			t.Fatalf("encodeProfile(%+v) = %x, the model's %x", p, blob, m)
		}
	}
}

// profileSets is p's sets of seen values, in their encoded order.
func profileSets(p *engine.Profile) [8][]engine.Seen {
	return [...][]engine.Seen{p.Devices, p.Agents, p.Countries, p.Cities, p.ASNs, p.Networks, p.ASNNetworks, p.AgentVersions}
}
