package signals

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/useragent"
)

// TestRBAInstructions runs RISKGATE_RBA_LOOP Computes and Learneds of the
// signal, or of its model with RISKGATE_RBA_MODEL=1, on logins like the
// Score benchmark's (known users, most with an ASN), for an instruction
// counter: callgrind's totals of two loop lengths, differenced, give the
// cost of one Compute and one Learned, unlike its call graph, which Go's
// stack switches confuse.
//
//	go test -c -o /tmp/s.test ./signals
//	RISKGATE_RBA_LOOP=100000 GOMAXPROCS=1 GODEBUG=cpu.rdtscp=off valgrind --tool=callgrind /tmp/s.test -test.run '^TestRBAInstructions$'
func TestRBAInstructions(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RISKGATE_RBA_LOOP"))
	if n <= 0 {
		t.Skip("set RISKGATE_RBA_LOOP to a number of logins")
	}
	var sig learningSignal = NewRBA(1)
	if os.Getenv("RISKGATE_RBA_MODEL") == "1" {
		sig = newModelRBA(1)
	}
	r := rand.New(rand.NewPCG(15, 4))
	uas := []string{uaChromeWin, uaChromeIOS, uaFirefoxLx}
	countries := []string{"FR", "DE", "GB", "US", "JP", "BR"}
	attempts := make([]rbaAttempt, 5000)
	for u := range attempts {
		addr := netip.AddrFrom4([4]byte{81, byte(u >> 16), byte(u >> 8), byte(u)})
		subnet := engine.SubnetOf(addr)
		country, ua := pick(r, countries), pick(r, uas)
		var asn uint32
		if u%4 != 0 {
			asn = uint32(3000 + r.IntN(200))
		}
		info := useragent.Parse(ua)
		st := &engine.State{HasProfile: true}
		p := &st.Profile
		p.Logins = 5
		p.Countries = []engine.Seen{{Value: country, Count: 5}}
		p.Agents = []engine.Seen{{Value: info.Family, Count: 5}}
		p.Networks = []engine.Seen{{Value: subnet.String(), Count: 5}}
		if asn != 0 {
			p.ASNs = []engine.Seen{{Value: fmt.Sprint(asn), Count: 5}}
			p.ASNNetworks = []engine.Seen{{Value: fmt.Sprint(asn), Count: 1}}
		}
		p.Devices = []engine.Seen{{Value: "d", Count: 5}}
		p.NewDevices = 1
		p.Hours[9] = 5
		in := &engine.Input{Tenant: "default", Addr: addr, Subnet: subnet, SubnetText: subnet.String(), State: st, StateAvailable: true, Agent: info}
		in.Enrichment.Location = engine.Location{Known: true, Country: country}
		in.Enrichment.Network.ASN = asn
		attempts[u] = rbaAttempt{in, engine.Login{Tenant: "default", Subnet: subnet, ASN: asn, Country: country, Agent: info.Family, AgentVersion: info.Version}}
	}
	for i := range attempts { // the population's counters, warm
		sig.Learned(&attempts[i].login)
	}
	rbaLoop(sig, attempts, n, r)
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

type learningSignal interface {
	engine.Signal
	engine.Learner
}

type rbaAttempt struct {
	in    *engine.Input
	login engine.Login
}

//go:noinline
func rbaLoop(sig learningSignal, attempts []rbaAttempt, n int, r *rand.Rand) {
	env := new(engine.Env) // once: through the interface, it escapes
	for range n {
		a := &attempts[r.IntN(len(attempts))]
		*env = engine.Env{}
		env.User.Known, env.Device.IDPresent, env.Device.Known, env.Attempt.Hour = true, true, true, 9
		_ = sig.Compute(a.in, env)
		sig.Learned(&a.login)
	}
}
