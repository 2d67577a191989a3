package simulator

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Targeted account takeover: the attacker has the victim's password
// (phished, or from an infostealer's log) and logs in as them. Variants,
// with their share:
//
//   - own (35%): from the attacker's own place (a home connection in 60%
//     of cases, a rented server in 30%, Tor in 10%) and own browser;
//   - vpn (30%): through a VPN exit in the victim's country, own browser;
//   - victim_ua (25%): with the victim's exact browser string (copied from
//     a phishing page's logs), from the attacker's place or a VPN exit in
//     the victim's country, half and half;
//   - local_proxy (10%): the most careful attacker: a residential proxy in
//     the victim's own city, often of the victim's own ISP, and the
//     victim's browser string.
//
// The attacker's device never carries the victim's device cookie: its
// browser gets a fresh one from the login page, or (15%) sends none. One attempt in four starts with a wrong password (an older
// one from the same leak); a third of successful attackers come back once
// between one and twenty-four hours later, from the same setup. Four
// successful takeovers in ten are later confirmed as fraud by an analyst
// (a confirmed_fraud outcome line), as are four hijacks in ten.
// confirmedShare is the share of successful attacks of every kind that an
// analyst later labels confirmed_fraud (an outcome line, one to five days
// on): the victim noticed, or a review caught it.
const confirmedShare = 0.4

var takeoverVariants = []struct {
	tag   string
	share float64
}{{"ato_own", 0.35}, {"ato_vpn", 0.30}, {"ato_victim_ua", 0.25}, {"ato_local_proxy", 0.10}}

func (g *gen) takeovers(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	r := newRand(g.cfg.Seed, streamTakeover)
	shares := make([]float64, len(takeoverVariants))
	for i, v := range takeoverVariants {
		shares[i] = v.share
	}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := g.attackTime(r, 26*time.Hour)
		v := g.victim(r, t)
		home := &g.w.cities[v.home]
		variant := takeoverVariants[weighted(r, shares)].tag
		dev := attackerDevice(r, token(r))
		if chance(r, 0.15) {
			dev.ID = "" // a script, or an anti-detect browser that drops cookies
		}
		victimUA := ""
		var ip netip.Addr
		switch variant {
		case "ato_own":
			c := g.attackerCountry(r, home.Country, "")
			switch x := r.Float64(); {
			case x < 0.6:
				ip = g.residentialAddr(r, c, -1, false)
			case x < 0.9:
				ip = g.hostingAddr(r, c)
			default:
				ip = g.torAddr(r)
			}
		case "ato_vpn":
			ip = g.vpnOrHostingIn(r, home.Country)
		case "ato_victim_ua":
			victimUA = primaryDevice(v).UA(t.Add(-phishLag(r)))
			if chance(r, 0.5) {
				ip = g.vpnOrHostingIn(r, home.Country)
			} else {
				ip = g.residentialAddr(r, g.attackerCountry(r, home.Country, ""), -1, false)
			}
		case "ato_local_proxy":
			victimUA = primaryDevice(v).UA(t.Add(-phishLag(r)))
			ip = g.residentialAddr(r, home.Country, v.home, true)
		}
		src := streamTakeover<<40 | uint64(i)
		login := func(at time.Time) {
			a := engine.Attempt{Tenant: g.cfg.Tenant, UserID: v.ID, Username: v.Username, IP: ip.String(),
				UserAgent: dev.UA(at), DeviceID: dev.ID, Channel: "web"}
			if victimUA != "" {
				a.UserAgent = victimUA
			}
			if chance(r, 0.25) {
				a.PasswordSHA1, a.Result = sha1Hex(randomPassword(r)), engine.ResultPasswordBad
				g.emit(src, at, variant, LabelAccountTakeover, false, a)
				at = at.Add(between(r, 10*time.Second, 2*time.Minute))
			}
			a.PasswordSHA1, a.Result = sha1Hex(v.password), engine.ResultPasswordOK
			ref := g.emit(src, at, variant, LabelAccountTakeover, false, a)
			if chance(r, confirmedShare) {
				g.confirmFraud(r, ref)
			}
		}
		login(t)
		if chance(r, 0.33) {
			login(t.Add(between(r, time.Hour, 24*time.Hour)))
		}
	}
	return nil
}

// phishLag is how long before the takeover the victim's browser string
// was captured (by the phishing page or the infostealer that took the
// password): a fifth of phished credentials are used within the hour, most
// within a week, some weeks later (Bursztein et al., "Handcrafted fraud and
// extortion", IMC 2014; Thomas et al., "Data breaches, phishing, or
// malware?", CCS 2017). Meanwhile the victim's browser may have updated.
func phishLag(r *rand.Rand) time.Duration {
	switch x := r.Float64(); {
	case x < 0.2:
		return between(r, 0, time.Hour)
	case x < 0.7:
		return between(r, time.Hour, 7*24*time.Hour)
	}
	return between(r, 7*24*time.Hour, 30*24*time.Hour)
}

func (g *gen) vpnOrHostingIn(r *rand.Rand, country string) netip.Addr {
	if a, ok := g.vpnExitIn(r, country); ok {
		return a
	}
	return g.hostingAddr(r, country)
}

// Session hijack seen as impossible travel: an infostealer lifted the
// victim's password, device cookie and browser string, and the attacker
// logs in with all three from another continent, 5 to 90 minutes after a
// real login of the victim (the stealer's log is fresh). The attacker's
// address is a rented server (half the time) or a home connection in
// their country.
func (g *gen) hijacks(ctx context.Context, n int) error {
	if n <= 0 || len(g.legitOK) == 0 {
		return nil
	}
	r := newRand(g.cfg.Seed, streamHijack)
	used := map[int]bool{} // lookups only
	for i := 0; i < n && len(used) < len(g.legitOK); {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := r.IntN(len(g.legitOK))
		if used[k] {
			continue
		}
		used[k] = true
		ref := g.legitOK[k]
		at := ref.at.Add(between(r, 5*time.Minute, 90*time.Minute))
		if !at.Before(g.end) {
			continue
		}
		v := g.users[ref.user]
		c := g.attackerCountry(r, "", g.w.continentOf(ref.city))
		var ip netip.Addr
		if chance(r, 0.5) && g.hasHosting(c) {
			ip = g.hostingAddr(r, c)
		} else {
			ip = g.residentialAddr(r, c, -1, false)
		}
		a := engine.Attempt{Tenant: g.cfg.Tenant, UserID: v.ID, Username: v.Username, IP: ip.String(),
			UserAgent: ref.device.UA(at), DeviceID: ref.device.ID, PasswordSHA1: sha1Hex(v.password),
			Result: engine.ResultPasswordOK, Channel: "web"}
		e := g.emit(streamHijack<<40|uint64(i), at, "hijack", LabelImpossibleTravel, false, a)
		if chance(r, confirmedShare) {
			g.confirmFraud(r, e)
		}
		i++
	}
	return nil
}
