package simulator

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// Where attackers operate from, weighted roughly like the sources of
// login attacks in published honeypot and CDN reports: much from a few
// countries, a long tail, and a good share through American and European
// data centres and residential proxies.
var attackerCountries = []struct {
	code   string
	weight float64
}{
	{"RU", 12}, {"CN", 10}, {"US", 10}, {"BR", 8}, {"VN", 8}, {"IN", 8}, {"NG", 6}, {"ID", 6}, {"UA", 5},
	{"RO", 4}, {"TR", 4}, {"PK", 3}, {"PH", 3}, {"NL", 3}, {"DE", 3}, {"FR", 2}, {"GB", 2}, {"TH", 2}, {"EG", 2}, {"MX", 2},
}

// attackerCountry draws a country, optionally excluding one and requiring
// another continent than notOn ("" for any).
func (g *gen) attackerCountry(r *rand.Rand, exclude string, notOn continent) string {
	for {
		w := make([]float64, len(attackerCountries))
		for i, c := range attackerCountries {
			w[i] = c.weight
		}
		c := attackerCountries[weighted(r, w)].code
		if c == exclude || notOn != "" && g.w.byCountry[c].Continent == notOn {
			continue
		}
		return c
	}
}

// proxyFlagged is the share of residential-proxy exits an Anonymous-IP
// database lists: they are real home connections and rotate fast, so
// coverage is partial.
const proxyFlagged = 0.3

// residentialAddr is a home connection in country (in city, when city is
// not -1): a botnet member or a residential proxy exit. Proxies are
// recorded for the Anonymous-IP database, a share of them flagged.
func (g *gen) residentialAddr(r *rand.Rand, country string, city int, proxy bool) netip.Addr {
	var blocks []int
	if city >= 0 {
		blocks = g.p.residential[city]
	} else {
		for _, ci := range g.w.inCountry[country] {
			blocks = append(blocks, g.p.residential[ci]...)
		}
	}
	var v4 []int
	for _, b := range blocks {
		if g.p.blocks[b].prefix.Addr().Is4() {
			v4 = append(v4, b)
		}
	}
	a := g.p.addr(r, v4[r.IntN(len(v4))])
	if proxy && chance(r, proxyFlagged) {
		g.p.proxies = append(g.p.proxies, a)
	}
	return a
}

// hostingAddr is a server in a data centre, in country when it has one.
func (g *gen) hostingAddr(r *rand.Rand, country string) netip.Addr {
	var cand []int
	for ci := range g.w.cities {
		if country == "" || g.w.cities[ci].Country == country {
			cand = append(cand, g.p.hosting[ci]...)
		}
	}
	if len(cand) == 0 {
		for ci := range g.w.cities {
			cand = append(cand, g.p.hosting[ci]...)
		}
	}
	return g.p.addr(r, cand[r.IntN(len(cand))])
}

func (g *gen) hasHosting(country string) bool {
	for _, ci := range g.w.inCountry[country] {
		if len(g.p.hosting[ci]) > 0 {
			return true
		}
	}
	return false
}

// vpnExitIn is an exit of some VPN provider in country, if any has one.
func (g *gen) vpnExitIn(r *rand.Rand, country string) (netip.Addr, bool) {
	var cand []int
	for _, exits := range g.p.vpnExits {
		for _, b := range exits {
			if g.p.blocks[b].country == country {
				cand = append(cand, b)
			}
		}
	}
	if len(cand) == 0 {
		return netip.Addr{}, false
	}
	return g.p.addr(r, cand[r.IntN(len(cand))]), true
}

func (g *gen) torAddr(r *rand.Rand) netip.Addr {
	return g.p.addr(r, g.p.tor[r.IntN(len(g.p.tor))])
}

// attackTime is a uniform instant of the measured period, leaving room
// for an attack of length d to finish inside it.
func (g *gen) attackTime(r *rand.Rand, d time.Duration) time.Time {
	span := g.end.Sub(g.start) - d
	if span <= 0 {
		return g.start
	}
	return g.start.Add(between(r, 0, span)).Truncate(time.Second)
}

// victim draws a user whose account exists at t.
func (g *gen) victim(r *rand.Rand, t time.Time) *User {
	for range 1000 {
		u := g.users[r.IntN(len(g.users))]
		if u.joined.Before(t) {
			return u
		}
	}
	return g.users[0] // only with a population of newcomers
}

// primaryDevice is the device the user logs in with most: whose browser
// string a well-informed attacker copies.
func primaryDevice(u *User) *Device {
	for i := range u.devices {
		if !u.devices[i].Kind.mobile() && u.devices[i].Kind != devIPad {
			return &u.devices[i]
		}
	}
	return &u.devices[0]
}

// leakedPassword is what a combo list holds for an account: a password
// from another site's breach, a common one three times in ten.
func leakedPassword(r *rand.Rand) string {
	if chance(r, 0.3) {
		return commonPasswords[r.IntN(len(commonPasswords))]
	}
	return randomPassword(r)
}
