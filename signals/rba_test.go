package signals

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/useragent"
)

// rbaUser has 10 logins at 09:00 UTC: 8 from her home /24 in Paris on
// Chrome/Windows (ASN 3215, one subnet there), 2 from Berlin on
// Safari/iOS (ASN 3320); two devices, each new once.
func rbaUser() *engine.State {
	st := &engine.State{HasProfile: true}
	p := &st.Profile
	p.Logins = 10
	p.Countries = []engine.Seen{{Value: "FR", Count: 8}, {Value: "DE", Count: 2}}
	p.ASNs = []engine.Seen{{Value: "3215", Count: 8}, {Value: "3320", Count: 2}}
	p.Agents = []engine.Seen{{Value: "chrome/windows", Count: 8}, {Value: "safari/ios", Count: 2}}
	p.Networks = []engine.Seen{{Value: "81.2.69.0/24", Count: 8}, {Value: "91.0.0.0/24", Count: 2}}
	p.ASNNetworks = []engine.Seen{{Value: "3215", Count: 1}, {Value: "3320", Count: 1}}
	p.Devices = []engine.Seen{{Value: "laptop", Count: 8}, {Value: "phone", Count: 2}}
	p.NewDevices = 2
	p.Hours[9] = 10
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

	lg := math.Log10
	p := func(c, n float64) float64 { return (c + 0.5) / (n + 1) } // population
	term := func(pc, pn, uc, un float64) float64 { pv := p(pc, pn); return lg(pv / ((uc + pv) / (un + 1))) }
	// Relative features (device absent here: the Device signal is not
	// run; hour: all ten logins at 09:00).
	noDevice := lg(0.15 / ((0 + 2*0.02) / (10 + 2)))
	newDevice := lg(0.80 / ((2 + 2*0.05) / (10 + 2)))
	knownDevice := lg(0.05 / ((8 + 2*0.93) / (10 + 2)))
	atNine := lg(0.125 / ((10 + 4*0.125) / (10 + 4)))
	atThree := lg(0.125 / ((0 + 4*0.125) / (10 + 4)))
	// Network given ASN 3215 (8 logins, 1 new subnet): her /24, never in
	// the population; or a /24 she never used there.
	homeNet := lg(p(0, 100) / p(60, 100) / (8.0 / 9))
	newNetSameASN := lg(9.0 / 1)

	usual := term(60, 100, 8, 10) + term(60, 100, 8, 10) + term(50, 100, 8, 10) + term(50, 100, 8, 10) + // ASN, country, chrome, windows
		homeNet + noDevice + atNine
	// A targeted attacker: her ISP, country and browser, a /24 of her
	// ISP she never used, a new device, at 03:00.
	targeted := term(60, 100, 8, 10)*2 + term(50, 100, 8, 10)*2 + newNetSameASN + newDevice + atThree
	// An untargeted attacker: BR, ASN 28573, Firefox on Linux: each value
	// feature unseen scores log10(n+1); the network adds nothing once the
	// ASN is new.
	untargeted := 4*term(0, 100, 0, 10) + newDevice + atThree

	tests := []struct {
		name          string
		in            *engine.Input
		device        engine.DeviceEnv
		want, wantTgt float64
	}{
		{"usual", at(rbaInput(rbaUser(), "FR", 3215, uaChromeWin, "81.2.69.10"), 9), engine.DeviceEnv{}, usual, homeNet + noDevice + atNine},
		{"usual with her laptop", at(rbaInput(rbaUser(), "FR", 3215, uaChromeWin, "81.2.69.10"), 9), engine.DeviceEnv{IDPresent: true, Known: true}, usual - noDevice + knownDevice, homeNet + knownDevice + atNine},
		{"targeted", at(rbaInput(rbaUser(), "FR", 3215, uaChromeWin, "81.2.70.10"), 3), engine.DeviceEnv{IDPresent: true, New: true}, targeted, newNetSameASN + newDevice + atThree},
		{"untargeted", at(rbaInput(rbaUser(), "BR", 28573, uaFirefoxLx, "177.10.20.30"), 3), engine.DeviceEnv{IDPresent: true, New: true}, untargeted, newDevice + atThree},
	}
	for _, tt := range tests {
		env := computeWithDevice(t, tt.in, tt.device, r)
		if !env.RBA.Available || math.Abs(env.RBA.Score-tt.want) > 1e-6 || math.Abs(env.RBA.Targeted-tt.wantTgt) > 1e-6 {
			t.Errorf("%s: score %v targeted %v available %v, want %v and %v", tt.name, env.RBA.Score, env.RBA.Targeted, env.RBA.Available, tt.want, tt.wantTgt)
		}
		sum := env.RBA.ASN + env.RBA.Network + env.RBA.Country + env.RBA.Browser + env.RBA.OS + env.RBA.Device + env.RBA.Hour
		if math.Abs(sum-env.RBA.Score) > 1e-9 {
			t.Errorf("%s: terms sum to %v, score %v", tt.name, sum, env.RBA.Score)
		}
	}
	if !(usual < 0 && targeted > 1 && untargeted > targeted) {
		t.Errorf("usual %v targeted %v untargeted %v: the model does not order them", usual, targeted, untargeted)
	}
}

// TestRBANetworkWithinASN: a new subnet weighs on a line that keeps its
// subnet and hardly at all on a carrier that changes it every session.
func TestRBANetworkWithinASN(t *testing.T) {
	r := NewRBA(1)
	home := rbaUser()
	mobile := rbaUser()
	mobile.Profile.ASNNetworks[0].Count = 7 // 8 logins on 3215, 7 from a new subnet
	in := func(st *engine.State) *engine.Input { return rbaInput(st, "FR", 3215, uaChromeWin, "81.2.70.10") }
	h, m := compute(t, in(home), r).RBA.Network, compute(t, in(mobile), r).RBA.Network
	if math.Abs(h-math.Log10(9)) > 1e-9 || math.Abs(m-math.Log10(15.0/7)) > 1e-9 {
		t.Errorf("new subnet: home line %v (want log10 9), carrier %v (want log10 15/7)", h, m)
	}
	// A profile stored before the counts has none: at least one subnet.
	old := rbaUser()
	old.Profile.ASNNetworks = nil
	if o := compute(t, in(old), r).RBA.Network; math.Abs(o-h) > 1e-9 {
		t.Errorf("profile without counts: %v, want %v", o, h)
	}
}

// TestRBAOutdatedBrowser: a browser far behind what the tenant's users
// run is outdated, whether or not the user is known.
func TestRBAOutdatedBrowser(t *testing.T) {
	r := NewRBA(1)
	l := engine.Login{Tenant: "t", Agent: "chrome/windows", AgentVersion: 145}
	r.Learned(&l)
	in := rbaInput(&engine.State{}, "FR", 3215, uaChromeWin, "81.2.69.10") // Chrome 131
	if got := compute(t, in, r).Device.Outdated; got != 14 {
		t.Errorf("outdated %d, want 14", got)
	}
	in = rbaInput(&engine.State{}, "FR", 3215, uaFirefoxLx, "81.2.69.10")
	if got := compute(t, in, r).Device.Outdated; got != 0 {
		t.Errorf("firefox, no population version: outdated %d", got)
	}
}

func at(in *engine.Input, hour int) *engine.Input {
	in.Time = time.Date(2026, 3, 2, hour, 0, 0, 0, time.UTC)
	return in
}

func computeWithDevice(t *testing.T, in *engine.Input, d engine.DeviceEnv, sigs ...engine.Signal) engine.Env {
	t.Helper()
	var env engine.Env
	env.Attempt.Hour = in.Time.UTC().Hour()
	if err := (User{MinHourLogins: 10, UnusualHourShare: 0.05}).Compute(in, &env); err != nil {
		t.Fatal(err)
	}
	env.Device = d
	for _, s := range sigs {
		if err := s.Compute(in, &env); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

func TestRBAUnknownUserAndMissingFeatures(t *testing.T) {
	r := NewRBA(1)
	if env := compute(t, rbaInput(&engine.State{}, "FR", 3215, uaChromeWin, "81.2.69.10"), r); env.RBA.Available {
		t.Error("score for a user without history")
	}
	// No user agent, no ASN, no location: the network counts alone
	// (smoothed over all her networks, with no population yet: p = 0.5),
	// with the absent device and the hour.
	in := at(rbaInput(rbaUser(), "", 0, "", "81.2.69.10"), 9)
	env := compute(t, in, r)
	want := math.Log10(0.5/((8+0.5)/11)) + math.Log10(0.15/(0.04/12)) + math.Log10(0.125/(10.5/14))
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
