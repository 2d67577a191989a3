package simulator

import (
	"context"
	"net/netip"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Crude attacks: what a kit does when its operator rents a few servers
// and does not bother with a botnet, fast and from one network, the
// attacks the burst rules are for (many usernames failing from one
// address or /24 in ten minutes, one account failing twenty times in an
// hour). They are off unless asked for (Attacks.StuffingBursts,
// Attacks.FastBruteForce): the benchmark's attackers are the careful kind.
//
//   - a stuffing burst: 400 to 600 attempts of a combo list in 10 to 15
//     minutes from 4 to 8 servers of one data centre's /24, one script's
//     browser string, no device cookie;
//   - a fast brute force: one account guessed from one server, a guess
//     every 1 to 3 minutes for up to 3 hours, dictionary order, until
//     it finds the password.
func (g *gen) bursts(ctx context.Context, stuffing, brute int) error {
	r := newRand(g.cfg.Seed, streamBursts)
	for w := range stuffing {
		if err := ctx.Err(); err != nil {
			return err
		}
		dur := between(r, 10*time.Minute, 15*time.Minute)
		start := g.attackTime(r, dur)
		servers := sameSlash24(g.hostingAddr(r, ""), 4+r.IntN(5), func() byte { return byte(1 + r.IntN(254)) })
		ua := scriptUAs[r.IntN(len(scriptUAs))]
		attempts := 400 + r.IntN(201)
		step := dur / time.Duration(attempts)
		for i := range attempts {
			t := start.Add(step*time.Duration(i) + between(r, 0, step))
			a := engine.Attempt{Tenant: g.cfg.Tenant, IP: servers[r.IntN(len(servers))].String(), UserAgent: ua, Channel: "web"}
			g.combo(r, t, &a)
			g.emit(streamBursts<<40|uint64(w), t, "stuffing_burst", LabelCredentialStuffing, false, a)
		}
	}
	dict := append(append([]string(nil), commonPasswords...), sprayPasswords...)
	for i := range brute {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := g.attackTime(r, 3*time.Hour)
		end := t.Add(3 * time.Hour)
		v := g.victim(r, t)
		ip := g.hostingAddr(r, "").String()
		ua := staleBrowserUAs[r.IntN(len(staleBrowserUAs))]
		for k := 0; k < len(dict) && t.Before(end); k++ {
			a := engine.Attempt{Tenant: g.cfg.Tenant, UserID: v.ID, Username: v.Username, IP: ip, UserAgent: ua,
				PasswordSHA1: sha1Hex(dict[k]), Result: engine.ResultPasswordBad, Channel: "web"}
			if dict[k] == v.password {
				a.Result = engine.ResultPasswordOK
			}
			g.emit(streamBursts<<40|1<<32|uint64(i), t, "brute_burst", LabelBruteForce, false, a)
			if a.Result == engine.ResultPasswordOK {
				break
			}
			t = t.Add(between(r, time.Minute, 3*time.Minute)).Truncate(time.Second)
		}
	}
	return nil
}

// sameSlash24 returns n distinct IPv4 addresses of a's /24, a first.
func sameSlash24(a netip.Addr, n int, host func() byte) []netip.Addr {
	out := []netip.Addr{a}
	seen := map[netip.Addr]bool{a: true}
	for len(out) < n {
		b := a.As4()
		b[3] = host()
		if x := netip.AddrFrom4(b); !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
