package signals

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/useragent"
)

// Value pools of the differential test: few enough values per feature
// that no two share all four cells, so the sketch's estimates are exact
// whatever the hash, and the model's and the signal's must agree to the
// bit. Empty values and odd families are on purpose.
var (
	diffCountries = []string{"", "FR", "DE", "GB", "US", "BR", "JP"}
	diffASNs      = []uint32{0, 3215, 3320, 64512, 28573, 1, 4294967295}
	diffFamilies  = []string{"", "chrome/windows", "safari/ios", "firefox/linux", "chrome/android", "curl", "/linux", "edge/"}
	diffAddrs     = []string{"81.2.69.10", "81.2.69.200", "81.2.70.1", "91.0.0.7", "10.0.0.1", "2a01:e0a:1234:5678::1", "2a01:e0a:1234:9999::1", "2a01:e0a:1235::1", "::ffff:81.2.69.10"}
	diffTenants   = func() []string {
		t := []string{"t", "other", ""}
		for i := range maxTenantPopulations + 6 { // past the bound: the overflow tenant
			t = append(t, fmt.Sprintf("tenant-%d", i))
		}
		return t
	}()
)

func diffLogin(r *rand.Rand) engine.Login {
	l := engine.Login{Tenant: pick(r, diffTenants[:4+r.IntN(len(diffTenants)-3)]), Country: pick(r, diffCountries), ASN: pick(r, diffASNs), Agent: pick(r, diffFamilies)}
	if r.IntN(10) > 0 {
		l.Subnet = engine.SubnetOf(netip.MustParseAddr(pick(r, diffAddrs)))
	}
	if l.Agent != "" && r.IntN(2) == 0 {
		l.AgentVersion = uint16(100 + r.IntN(50))
	}
	return l
}

// diffSeen draws a profile set from pool, text as the store keeps it.
func diffSeen(r *rand.Rand, pool []string) []engine.Seen {
	var s []engine.Seen
	for _, v := range pool {
		if v != "" && r.IntN(3) == 0 {
			s = append(s, engine.Seen{Value: v, Count: uint32(1 + r.IntN(20))})
		}
	}
	return s
}

func diffInput(r *rand.Rand) (*engine.Input, engine.Env) {
	st := &engine.State{HasProfile: true}
	p := &st.Profile
	asns := make([]string, len(diffASNs))
	for i, a := range diffASNs {
		if a != 0 {
			asns[i] = fmt.Sprint(a)
		}
	}
	asns = append(asns, "03215", "3215 ", "64512x") // texts no ASN formats to
	nets := make([]string, len(diffAddrs))
	for i, a := range diffAddrs {
		nets[i] = engine.SubnetOf(netip.MustParseAddr(a)).String()
	}
	p.Countries, p.ASNs, p.Agents, p.Networks = diffSeen(r, diffCountries), diffSeen(r, asns), diffSeen(r, diffFamilies), diffSeen(r, nets)
	p.ASNNetworks = diffSeen(r, asns)
	p.Devices = diffSeen(r, []string{"a", "b", "c"})
	p.Logins = uint32(r.IntN(40))
	p.NewDevices, p.NoDevice = uint32(r.IntN(3)), uint32(r.IntN(3))
	for h := range p.Hours {
		if r.IntN(4) == 0 {
			p.Hours[h] = uint32(r.IntN(9))
		}
	}
	addr := netip.MustParseAddr(pick(r, diffAddrs))
	in := &engine.Input{Tenant: pick(r, diffTenants), Addr: addr, Subnet: engine.SubnetOf(addr), SubnetText: engine.SubnetOf(addr).String(), State: st, StateAvailable: true}
	if r.IntN(8) == 0 {
		in.Subnet, in.SubnetText = netip.Prefix{}, ""
	}
	if f := pick(r, diffFamilies); f != "" {
		in.Agent = useragent.Info{Family: f, Version: uint16(r.IntN(160))}
		in.Agent.Browser, in.Agent.OS = f, ""
		for i := range f {
			if f[i] == '/' {
				in.Agent.Browser, in.Agent.OS = f[:i], f[i+1:]
				break
			}
		}
	}
	c := pick(r, diffCountries)
	in.Enrichment.Location = engine.Location{Known: c != "" || r.IntN(2) == 0, Country: c}
	in.Enrichment.Network.ASN = pick(r, diffASNs)
	var env engine.Env
	env.User.Known = r.IntN(10) > 0
	env.Device = engine.DeviceEnv{IDPresent: r.IntN(3) > 0, Known: r.IntN(2) == 0}
	env.Attempt.Hour = r.IntN(26) - 1
	return in, env
}

// sameBits reports whether two RBA results are the same to the bit.
func sameBits(a, b engine.RBAEnv) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		fa, fb := va.Field(i), vb.Field(i)
		if fa.Kind() == reflect.Float64 {
			if math.Float64bits(fa.Float()) != math.Float64bits(fb.Float()) {
				return false
			}
		} else if fa.Interface() != fb.Interface() {
			return false
		}
	}
	return true
}

// TestRBAMatchesModel drives the signal and its model (the code before
// issue 15's work, rba_model_test.go) with the same random logins and
// attempts: the scores must be the same to the bit.
func TestRBAMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 1))
	sig, model := NewRBA(1.5), newModelRBA(1.5)
	for i := range 20000 {
		if r.IntN(3) > 0 {
			l := diffLogin(r)
			sig.Learned(&l)
			model.Learned(&l)
			continue
		}
		in, env := diffInput(r)
		got, want := env, env
		if err := sig.Compute(in, &got); err != nil {
			t.Fatal(err)
		}
		if err := model.Compute(in, &want); err != nil {
			t.Fatal(err)
		}
		if !sameBits(got.RBA, want.RBA) || got.Device.Outdated != want.Device.Outdated {
			t.Fatalf("attempt %d: got %+v outdated %d, model %+v outdated %d", i, got.RBA, got.Device.Outdated, want.RBA, want.Device.Outdated)
		}
	}
}

// TestSketchMatchesModel feeds the sketch and the model's the same cells,
// crowded into eight columns per row so that values collide all the time:
// the conservative updates must leave the same counters and totals.
func TestSketchMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 2))
	p, m := newPopulation(), newModelPopulation()
	hashes := make([]uint64, 40)
	for i := range hashes {
		hashes[i] = r.Uint64() & 0x0007_0007_0007_0007
	}
	for range 50000 {
		h, k := pick(r, hashes), r.IntN(numFeatures)
		var c [sketchDepth]uint32
		for i := range c {
			c[i] = uint32(h>>(16*i)) & (sketchWidth - 1)
		}
		p.add(k, h)
		m.addCells(k, c)
	}
	for i := range sketchDepth {
		for j := range 8 {
			if a, b := p.rows[i][j].Load(), m.rows[i][j].Load(); a != b {
				t.Fatalf("row %d column %d: %d, model %d", i, j, a, b)
			}
		}
	}
	for k := range numFeatures {
		if a, b := p.total[k].Load(), m.total[k].Load(); a != b {
			t.Fatalf("feature %d total %d, model %d", k, a, b)
		}
	}
}

// TestSketchGuarantees: with the new hash, over many values (Zipf), the
// estimates of a count-min sketch: never below the count, and on average
// above it by far less than N/width.
func TestSketchGuarantees(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 3))
	sig := NewRBA(1)
	const n = 200000
	z := rand.NewZipf(r, 1.1, 1, 100000)
	counts := map[uint64]uint64{}
	for range n {
		v := z.Uint64()
		counts[v]++
		l := engine.Login{Tenant: "t", Country: fmt.Sprint(v), ASN: uint32(v + 1)}
		sig.Learned(&l)
	}
	pop := sig.population("t", false)
	var over [2]float64
	for v, c := range counts {
		for i, h := range []uint64{sig.stringHash(featCountry, fmt.Sprint(v)), sig.asnHash(uint32(v + 1))} {
			e := uint64(pop.count(h))
			if e < c {
				t.Fatalf("value %d: estimate %d below its count %d", v, e, c)
			}
			over[i] += float64(e - c)
		}
	}
	for i, o := range over {
		if mean := o / float64(len(counts)); mean > 0.1*n/sketchWidth {
			t.Errorf("feature %d: mean overestimate %.3f, a count-min sketch's bound is %v", i, mean, float64(n)/sketchWidth)
		}
	}
}

// TestPrefixHashIsText: the subnet's binary key has the meaning of its
// text: the same text, the same hash; another text, another hash.
func TestPrefixHashIsText(t *testing.T) {
	sig := NewRBA(1)
	byText := map[string]uint64{}
	byHash := map[uint64]string{}
	for _, a := range append(diffAddrs, "81.2.69.0", "0.0.0.0", "::", "::ffff:0.0.0.0", "2a01:e0a:1234::", "fe80::1%eth0", "fe80::1") {
		p := engine.SubnetOf(netip.MustParseAddr(a))
		h, s := sig.prefixHash(p), p.String()
		if old, ok := byText[s]; ok && old != h {
			t.Errorf("%s: two hashes for one subnet", s)
		}
		if old, ok := byHash[h]; ok && old != s {
			t.Errorf("%s and %s: one hash", old, s)
		}
		byText[s], byHash[h] = h, s
	}
}

// TestLog10OfOne pins what log10's shortcut relies on.
func TestLog10OfOne(t *testing.T) {
	if b := math.Float64bits(math.Log10(1)); b != 0 {
		t.Fatalf("math.Log10(1) has bits %#x, not +0", b)
	}
	for _, v := range []float64{0.5, 2, 9, 1 + 1e-16, 1 - 1e-16} {
		if math.Float64bits(log10(v)) != math.Float64bits(math.Log10(v)) {
			t.Errorf("log10(%v) differs from math.Log10", v)
		}
	}
}

func TestRBALearnedDoesNotAllocate(t *testing.T) {
	sig := NewRBA(1)
	l := engine.Login{Tenant: "t", Country: "FR", ASN: 3215, Agent: "chrome/windows", AgentVersion: 131, Subnet: netip.MustParsePrefix("2a01:e0a:1234::/48")}
	sig.Learned(&l) // the tenant's population and the browser's version
	if n := testing.AllocsPerRun(100, func() { sig.Learned(&l) }); n != 0 {
		t.Errorf("Learned allocates %v times", n)
	}
}

// TestRBAConcurrent learns and scores on several goroutines (for -race),
// then checks the totals are exact. The sketch's counts are not: two
// logins of one value at once both read the minimum m, one raises the
// counters to m+1 and the other then finds them above m, as the model
// does (it loses about a fifth of the increments of one hot value on
// four busy goroutines).
func TestRBAConcurrent(t *testing.T) {
	sig := NewRBA(1)
	const workers, per = 4, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(15, uint64(w)))
			for i := range per {
				l := engine.Login{Tenant: "t", Country: pick(r, diffCountries[1:]), ASN: 3215, Agent: "chrome/windows", AgentVersion: uint16(100 + i%40)}
				sig.Learned(&l)
				in, env := diffInput(r)
				in.Tenant = "t"
				_ = sig.Compute(in, &env)
			}
		}()
	}
	wg.Wait()
	pop := sig.population("t", false)
	if got := pop.total[featASN].Load(); got != workers*per {
		t.Errorf("ASN total %d, want %d", got, workers*per)
	}
	if c := pop.count(sig.asnHash(3215)); c == 0 || c > workers*per {
		t.Errorf("ASN 3215 counted %d times, learned %d", c, workers*per)
	}
	if v := pop.newestVersion("chrome"); v != 139 {
		t.Errorf("newest chrome %d, want 139", v)
	}
}

// FuzzIsDecimal: isDecimal(s, v) is s == strconv.FormatUint(v).
func FuzzIsDecimal(f *testing.F) {
	for _, s := range []string{"3215", "0", "03215", "", "4294967295", "4294967296", "12345678901", "+1", "1a", "٣"} {
		f.Add(s, uint32(3215))
	}
	f.Fuzz(func(t *testing.T, s string, v uint32) {
		if got, want := isDecimal(s, v), s == strconv.FormatUint(uint64(v), 10); got != want {
			t.Errorf("isDecimal(%q, %d) = %v", s, v, got)
		}
		if !isDecimal(strconv.FormatUint(uint64(v), 10), v) {
			t.Errorf("isDecimal of %d's text false", v)
		}
	})
}
