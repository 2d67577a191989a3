package simulator

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Credential stuffing: a combo list (e-mail:password pairs from other
// sites' breaches) replayed through a botnet. Parameters per wave:
//
//   - 1 to 6 hours long, attempts spread evenly with jitter;
//   - a quarter of the usernames exist here (people reuse their e-mail
//     address); the rest get no_such_user;
//   - the password is the one leaked elsewhere: wrong here unless the
//     person reused it (1.5% of existing accounts), common three times in
//     ten;
//   - the botnet is of one of three kinds: mostly data-centre servers each
//     trying dozens of accounts, mostly residential proxies with sticky
//     sessions of a few attempts each (see botnet), or a mix;
//   - the tool sends a rotating list of stale browser strings, one fixed
//     string, or its HTTP library's; most attempts carry no device cookie
//     and the rest a fresh one each time (the kit fetched the login page).
const (
	stuffingExisting = 0.25
	stuffingReuse    = 0.015
)

func (g *gen) stuffing(ctx context.Context, waves, attempts int) error {
	if waves <= 0 || attempts <= 0 {
		return nil
	}
	r := newRand(g.cfg.Seed, streamStuffing)
	for w := range waves {
		dur := between(r, time.Hour, 6*time.Hour)
		start := g.attackTime(r, dur)
		bots := g.newBotnet(r, attempts)
		var fixedUA string
		uaMode := weighted(r, []float64{0.6, 0.25, 0.15})
		switch uaMode {
		case 1:
			fixedUA = staleBrowserUAs[r.IntN(len(staleBrowserUAs))]
		case 2:
			fixedUA = scriptUAs[r.IntN(len(scriptUAs))]
		}
		cookies := chance(r, 0.3)
		step := dur / time.Duration(attempts)
		for i := range attempts {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			t := start.Add(step*time.Duration(i) + between(r, 0, step))
			a := engine.Attempt{Tenant: g.cfg.Tenant, IP: g.botAddr(r, bots).String(), Channel: "web"}
			a.UserAgent = fixedUA
			if uaMode == 0 {
				a.UserAgent = staleBrowserUAs[r.IntN(len(staleBrowserUAs))]
			}
			if cookies {
				a.DeviceID = token(r)
			}
			g.combo(r, t, &a)
			e := g.emit(streamStuffing<<40|uint64(w), t, "stuffing", LabelCredentialStuffing, false, a)
			if a.Result == engine.ResultPasswordOK && chance(r, confirmedShare) {
				g.confirmFraud(r, e)
			}
		}
	}
	return nil
}

// comboCase: combo lists carry addresses as people typed them elsewhere,
// now and then capitalised.
func comboCase(r *rand.Rand, s string) string {
	if chance(r, 0.1) {
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// botnet is one wave's sources: rented servers, each used all wave long,
// and residential-proxy sessions. Proxy services sell "sticky" sessions
// that keep one exit for a few minutes; the kit runs a few dozen threads,
// each on its own session, and opens a new one (a new exit) after one to
// five attempts.
type botnet struct {
	hosting      []netip.Addr
	hostingShare float64
	sessions     []proxySession
}

type proxySession struct {
	addr netip.Addr
	left int
}

func (g *gen) newBotnet(r *rand.Rand, attempts int) *botnet {
	b := &botnet{}
	switch r.IntN(3) {
	case 0:
		b.hostingShare = 0.8
	case 1:
		b.hostingShare = 0.1
	default:
		b.hostingShare = 0.4
	}
	for range max(5, int(float64(attempts)*b.hostingShare/30)) {
		b.hosting = append(b.hosting, g.hostingAddr(r, ""))
	}
	b.sessions = make([]proxySession, 20+r.IntN(40))
	return b
}

func (g *gen) botAddr(r *rand.Rand, b *botnet) netip.Addr {
	if chance(r, b.hostingShare) {
		return b.hosting[r.IntN(len(b.hosting))]
	}
	s := &b.sessions[r.IntN(len(b.sessions))]
	if s.left <= 0 {
		s.addr = g.residentialAddr(r, g.attackerCountry(r, "", ""), -1, true)
		s.left = 1 + r.IntN(5)
	}
	s.left--
	return s.addr
}

// combo fills a with one line of a combo list tried at t: a victim's
// username with a leaked password (now and then the victim's own,
// reused), or a username no account has.
func (g *gen) combo(r *rand.Rand, t time.Time, a *engine.Attempt) {
	if chance(r, stuffingExisting) {
		u := g.victim(r, t)
		a.UserID, a.Username = u.ID, comboCase(r, u.Username)
		pw := leakedPassword(r)
		a.Result = engine.ResultPasswordBad
		if chance(r, stuffingReuse) {
			pw, a.Result = u.password, engine.ResultPasswordOK
		}
		a.PasswordSHA1 = sha1Hex(pw)
	} else {
		a.Username = comboCase(r, username(r, "", g.taken))
		a.PasswordSHA1 = sha1Hex(leakedPassword(r))
		a.Result = engine.ResultNoSuchUser
	}
}
