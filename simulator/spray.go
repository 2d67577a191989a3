package simulator

import (
	"context"
	"net/netip"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Password spraying: a few passwords people really choose (season and
// year, "Welcome1", the all-time classics) tried once against each of many
// valid accounts, one password per round and rounds hours apart, to stay
// under per-account lockout thresholds. Parameters per campaign:
//
//   - 3 to 5 passwords, one round each, rounds 2 to 8 hours apart;
//   - a round walks the target list in 1 to 3 hours;
//   - the targets are valid usernames (harvested or enumerated);
//   - 4 to 12 source addresses (cloud servers, VPN exits, a few
//     residential proxies), used in turn;
//   - one browser string for the whole campaign, or a script's, and no
//     device cookie.
//
// A user whose password is the one sprayed is logged into.
var sprayPasswords = []string{"Winter2026!", "Spring2026!", "Password1", "Welcome1", "123456", "password1", "Summer2025!", "Qwerty123!", "Password123", "letmein"}

func (g *gen) spray(ctx context.Context, campaigns, accounts int) error {
	if campaigns <= 0 || accounts <= 0 {
		return nil
	}
	r := newRand(g.cfg.Seed, streamSpray)
	for c := range campaigns {
		np := 3 + r.IntN(3)
		gaps := make([]time.Duration, np)
		var total time.Duration
		for i := range gaps {
			gaps[i] = between(r, 2*time.Hour, 8*time.Hour)
			total += gaps[i] + 3*time.Hour
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := g.attackTime(r, total)
		// The targets are accounts that exist when the campaign starts:
		// when fewer do than asked for (a short stream of new accounts),
		// all of them. Drawing victims until enough distinct ones turn up
		// would never end.
		var exist []*User
		for _, u := range g.users {
			if u.joined.Before(t0) {
				exist = append(exist, u)
			}
		}
		if len(exist) == 0 {
			continue
		}
		targets := make([]*User, 0, min(accounts, len(exist)))
		for _, i := range r.Perm(len(exist))[:min(accounts, len(exist))] {
			targets = append(targets, exist[i])
		}
		var ips []netip.Addr
		for range 4 + r.IntN(9) {
			switch x := r.Float64(); {
			case x < 0.5:
				ips = append(ips, g.hostingAddr(r, ""))
			case x < 0.8:
				a, ok := g.vpnExitIn(r, []string{"NL", "US", "DE", "GB"}[r.IntN(4)])
				if !ok {
					a = g.hostingAddr(r, "")
				}
				ips = append(ips, a)
			default:
				ips = append(ips, g.residentialAddr(r, g.attackerCountry(r, "", ""), -1, true))
			}
		}
		ua := staleBrowserUAs[r.IntN(len(staleBrowserUAs))]
		if chance(r, 0.3) {
			ua = scriptUAs[r.IntN(len(scriptUAs))]
		}
		pwIdx := r.Perm(len(sprayPasswords))[:np]
		t := t0
		for round, pi := range pwIdx {
			pw := sprayPasswords[pi]
			hash := sha1Hex(pw)
			roundDur := between(r, time.Hour, 3*time.Hour)
			step := roundDur / time.Duration(len(targets))
			for i, u := range r.Perm(len(targets)) {
				v := targets[u]
				at := t.Add(step*time.Duration(i) + between(r, 0, step))
				a := engine.Attempt{Tenant: g.cfg.Tenant, UserID: v.ID, Username: v.Username, IP: ips[(i+round)%len(ips)].String(),
					UserAgent: ua, PasswordSHA1: hash, Result: engine.ResultPasswordBad, Channel: "web"}
				if v.password == pw {
					a.Result = engine.ResultPasswordOK
				}
				e := g.emit(streamSpray<<40|uint64(c), at, "spray", LabelPasswordSpray, false, a)
				if a.Result == engine.ResultPasswordOK && chance(r, confirmedShare) {
					g.confirmFraud(r, e)
				}
			}
			t = t.Add(roundDur + gaps[round])
		}
	}
	return nil
}
