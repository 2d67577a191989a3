package simulator

import (
	"context"
	"fmt"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Slow distributed brute force: a few chosen accounts (an executive, an
// administrator) guessed for days from a botnet, each guess from another
// address, a guess every 15 to 45 minutes on average per account so that
// no address and no hour looks busy. Guesses walk a dictionary, most
// common first; an account whose password is in it falls. Parameters:
// 2 to 5 days per account, exponential gaps of mean 15 to 45 minutes,
// stale browser strings, no device cookie, addresses from home
// connections in the attacker countries (80%) and data centres.
func (g *gen) bruteForce(ctx context.Context, accounts int) error {
	if accounts <= 0 {
		return nil
	}
	r := newRand(g.cfg.Seed, streamBruteForce)
	dict := append(append([]string(nil), commonPasswords...), sprayPasswords...)
	for i := range accounts {
		if err := ctx.Err(); err != nil {
			return err
		}
		dur := time.Duration(2+r.IntN(4)) * 24 * time.Hour
		t := g.attackTime(r, dur)
		end := t.Add(dur)
		v := g.victim(r, t)
		mean := between(r, 15*time.Minute, 45*time.Minute)
		src := streamBruteForce<<40 | uint64(i)
		for k := 0; t.Before(end) && t.Before(g.end); k++ {
			guess := fmt.Sprintf("%s%d", dict[k%len(dict)], k/len(dict))
			if k < len(dict) {
				guess = dict[k]
			}
			ip := g.residentialAddr(r, g.attackerCountry(r, "", ""), -1, true)
			if chance(r, 0.2) {
				ip = g.hostingAddr(r, "")
			}
			a := engine.Attempt{Tenant: g.cfg.Tenant, UserID: v.ID, Username: v.Username, IP: ip.String(),
				UserAgent: staleBrowserUAs[r.IntN(len(staleBrowserUAs))], PasswordSHA1: sha1Hex(guess),
				Result: engine.ResultPasswordBad, Channel: "web"}
			if guess == v.password {
				a.Result = engine.ResultPasswordOK
			}
			e := g.emit(src, t, "brute", LabelBruteForce, false, a)
			if a.Result == engine.ResultPasswordOK {
				if chance(r, confirmedShare) {
					g.confirmFraud(r, e)
				}
				break
			}
			t = t.Add(expDur(r, mean)).Truncate(time.Second)
		}
	}
	return nil
}
