package signals

import (
	"math"
	"net/netip"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/useragent"
)

// rbaUser has 10 logins: 8 from Paris on Chrome/Windows, 2 from Berlin on
// Safari/iOS, two ASNs.
func rbaUser() *engine.State {
	st := &engine.State{HasProfile: true}
	p := &st.Profile
	p.Logins = 10
	p.Countries = []engine.Seen{{Value: "FR", Count: 8}, {Value: "DE", Count: 2}}
	p.ASNs = []engine.Seen{{Value: "3215", Count: 8}, {Value: "3320", Count: 2}}
	p.Agents = []engine.Seen{{Value: "chrome/windows", Count: 8}, {Value: "safari/ios", Count: 2}}
	p.Networks = []engine.Seen{{Value: "81.2.69.0/24", Count: 8}, {Value: "91.0.0.0/24", Count: 2}}
	return st
}

// teach adds n logins of a population member to r.
func teach(r *RBA, n int, country string, asn uint32, agent, subnet string) {
	for range n {
		l := engine.Login{Tenant: "t", Country: country, ASN: asn, Agent: agent, Subnet: netip.MustParsePrefix(subnet)}
		r.Learned(&l)
	}
}

func rbaInput(st *engine.State, country string, asn uint32, ua, ip string) *engine.Input {
	addr := netip.MustParseAddr(ip)
	in := &engine.Input{Tenant: "t", Addr: addr, Subnet: engine.SubnetOf(addr), SubnetText: engine.SubnetOf(addr).String(), State: st, StateAvailable: true, Agent: useragent.Parse(ua)}
	in.Enrichment.Location = engine.Location{Known: country != "", Country: country}
	in.Enrichment.Network.ASN = asn
	return in
}

const (
	uaChromeWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefoxLx = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
	uaChromeIOS = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/146.0.0.0 Mobile/15E148 Safari/604.1"
)

// TestRBAHandComputed checks the score against values computed by hand
// from the formulas in the RBA doc comment.
func TestRBAHandComputed(t *testing.T) {
	r := NewRBA(1)
	// Population: 100 logins, 60 FR / 40 DE, 60 on ASN 3215, Chrome/Windows
	// 50 times, Safari/iOS 50 times, all from other subnets.
	teach(r, 50, "FR", 3215, "chrome/windows", "10.0.0.0/24")
	teach(r, 10, "FR", 3215, "safari/ios", "10.0.1.0/24")
	teach(r, 40, "DE", 3320, "safari/ios", "10.0.2.0/24")

	p := func(c, n float64) float64 { return (c + 0.5) / (n + 1) } // population
	pu := func(c, n, pv float64) float64 { return (c + pv) / (n + 1) }
	term := func(pc, pn, uc, un float64) float64 { pv := p(pc, pn); return math.Log10(pv / pu(uc, un, pv)) }

	// Her usual login: FR, ASN 3215, Chrome on Windows, her usual /24.
	usual := term(60, 100, 8, 10) + // country
		term(60, 100, 8, 10) + // ASN
		term(50, 100, 8, 10) + // browser chrome
		term(50, 100, 8, 10) + // os windows
		term(0, 100, 8, 10) // her /24, never seen in the population counts
	// An attacker: BR, ASN 28573, Firefox on Linux, a new /24: nothing
	// seen, each of the five features log10(11) = 1.04.
	unseen := term(0, 100, 0, 10)
	attacker := unseen * 5
	// Chrome on iOS: both seen, never together. The family is not a
	// feature of its own (it is browser and OS), so this is not novel.
	chromeIOS := term(60, 100, 8, 10) + term(60, 100, 8, 10) + term(0, 100, 8, 10) + // country, ASN, her /24
		term(50, 100, 8, 10) + // browser chrome
		term(50, 100, 2, 10) // os ios: 50 in the population, 2 of hers

	tests := []struct {
		name string
		in   *engine.Input
		want float64
	}{
		{"usual", rbaInput(rbaUser(), "FR", 3215, uaChromeWin, "81.2.69.10"), usual},
		{"attacker", rbaInput(rbaUser(), "BR", 28573, uaFirefoxLx, "177.10.20.30"), attacker},
		{"chrome on her iphone", rbaInput(rbaUser(), "FR", 3215, uaChromeIOS, "81.2.69.10"), chromeIOS},
	}
	for _, tt := range tests {
		env := compute(t, tt.in, r)
		if !env.RBA.Available || math.Abs(env.RBA.Score-tt.want) > 1e-6 {
			t.Errorf("%s: score %v available %v, want %v", tt.name, env.RBA.Score, env.RBA.Available, tt.want)
		}
	}
	if math.Abs(attacker-5*math.Log10(11)) > 1e-12 {
		t.Errorf("attacker %v: each unseen value should score log10(n+1) = log10(11)", attacker)
	}
	if !(attacker > 5 && usual < 0) {
		t.Errorf("usual %v attacker %v: the model does not separate them", usual, attacker)
	}
}

func TestRBAUnknownUserAndMissingFeatures(t *testing.T) {
	r := NewRBA(1)
	if env := compute(t, rbaInput(&engine.State{}, "FR", 3215, uaChromeWin, "81.2.69.10"), r); env.RBA.Available {
		t.Error("score for a user without history")
	}
	// No user agent, no ASN, no location: only the network counts.
	in := rbaInput(rbaUser(), "", 0, "", "81.2.69.10")
	env := compute(t, in, r)
	want := math.Log10(0.5 / ((8 + 0.5) / 11))
	if math.Abs(env.RBA.Score-want) > 1e-9 {
		t.Errorf("network only: %v, want %v", env.RBA.Score, want)
	}
}

func TestRBATenantsAreSeparate(t *testing.T) {
	r := NewRBA(1)
	teach(r, 100, "FR", 3215, "chrome/windows", "10.0.0.0/24")
	a := rbaInput(rbaUser(), "FR", 3215, uaChromeWin, "81.2.69.10")
	b := rbaInput(rbaUser(), "FR", 3215, uaChromeWin, "81.2.69.10")
	b.Tenant = "other"
	if sa, sb := compute(t, a, r).RBA.Score, compute(t, b, r).RBA.Score; sa == sb {
		t.Errorf("tenant populations shared: %v == %v", sa, sb)
	}
}

func TestRBADoesNotAllocate(t *testing.T) {
	r := NewRBA(1)
	teach(r, 10, "FR", 3215, "chrome/windows", "10.0.0.0/24")
	in := rbaInput(rbaUser(), "FR", 64512, uaChromeWin, "2a01:e0a:1234:5678::1")
	var env engine.Env
	env.User.Known = true
	if n := testing.AllocsPerRun(100, func() { _ = r.Compute(in, &env) }); n != 0 {
		t.Errorf("Compute allocates %v times", n)
	}
}
