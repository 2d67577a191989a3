package simulator

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// User is a simulated account holder: where they live, what they log in
// with, when and how often.
type User struct {
	idx      int
	ID       string
	Username string
	joined   time.Time // first possible login: the account's creation

	home    int  // city
	homeISP *ISP // broadband
	home4   int  // IPv4 block of the home connection
	home6   int  // IPv6 block, -1 when the ISP has no IPv6
	addr4   netip.Addr
	addr6   netip.Addr
	// leaseDays is how long the home IPv4 address lasts on average: days
	// for most ISPs, effectively forever for those that give static ones.
	leaseDays float64
	carrier   *ISP
	// work is the office or campus the user spends weekdays at, nil for
	// none; student says it is a campus.
	work    *workplace
	student bool
	// hq: the user works at the busy office (Config.BusyOffice) and logs
	// in there every workday morning from the work laptop.
	hq bool

	devices []Device // in use; phones and computers
	// cookieLoss is the chance per login that the device cookie is gone
	// (cleared cookies, private windows, a browser reset).
	cookieLoss float64

	password string
	breached bool // the password is a common one, in every breach corpus
	typo     float64

	rate  float64 // logins per day
	peaks []peak  // usual hours, local time
	// trips per 30 days.
	tripRate float64
	vpn      *vpnHabit
}

// peak is a mode of the user's login hours: a mean local hour and spread.
type peak struct {
	hour, sd, weight float64
}

// vpnHabit is a consumer VPN subscription and how it is used.
type vpnHabit struct {
	provider int
	country  string  // exit country the user picks
	share    float64 // share of logins over the VPN
}

// commonPasswords are among the most common passwords of every breach
// corpus (and in riskgate's embedded breached-password filter). A small
// share of users really have one.
var commonPasswords = []string{"123456", "password", "123456789", "12345678", "qwerty", "111111", "iloveyou", "password1", "abc123", "sunshine", "football", "monkey", "letmein", "dragon", "qwerty123", "1q2w3e4r"}

var firstNames = []string{"marie", "jean", "lucas", "emma", "louis", "lea", "hugo", "chloe", "anna", "paul", "laura", "max", "sophie", "felix", "mia", "leon", "james", "olivia", "oliver", "amelia", "jack", "isla", "noah", "sara", "david", "elena", "marco", "giulia", "pablo", "lucia", "jan", "eva", "michael", "emily", "daniel", "hannah", "thomas", "julia", "kenji", "yuki", "ravi", "priya", "wei", "mei", "joao", "ana", "liam", "chen"}

var lastNames = []string{"martin", "bernard", "dubois", "thomas", "robert", "petit", "durand", "leroy", "moreau", "muller", "schmidt", "schneider", "fischer", "weber", "meyer", "smith", "jones", "taylor", "brown", "williams", "wilson", "garcia", "rossi", "russo", "ferrari", "lopez", "martinez", "dejong", "jansen", "peeters", "novak", "kowalski", "johnson", "miller", "davis", "lee", "tanaka", "suzuki", "sharma", "patel", "wang", "silva", "santos", "nguyen", "andersson", "murphy", "costa", "horvat"}

var mailDomains = map[string][]string{
	"FR": {"gmail.com", "orange.fr", "free.fr", "hotmail.fr", "outlook.fr", "laposte.net"},
	"DE": {"gmail.com", "gmx.de", "web.de", "t-online.de", "outlook.de"},
	"GB": {"gmail.com", "hotmail.co.uk", "outlook.com", "btinternet.com", "yahoo.co.uk"},
	"US": {"gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "comcast.net"},
}

func mailDomain(r *rand.Rand, country string) string {
	d, ok := mailDomains[country]
	if !ok {
		d = []string{"gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me"}
	}
	return d[r.IntN(len(d))]
}

// username makes a plausible e-mail address; taken holds those in use.
// The name space is a few million addresses: past it (millions of users
// and stuffing lists), a number keeps each new one distinct.
func username(r *rand.Rand, country string, taken map[string]bool) string {
	for try := 0; ; try++ {
		f, l := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		var s string
		switch r.IntN(4) {
		case 0:
			s = f + "." + l
		case 1:
			s = f + l + fmt.Sprint(r.IntN(100))
		case 2:
			s = f[:1] + l + fmt.Sprint(r.IntN(1000))
		default:
			s = f + "." + l + fmt.Sprint(1960+r.IntN(45))
		}
		if try >= 32 {
			s += fmt.Sprint(len(taken))
		}
		s += "@" + mailDomain(r, country)
		if !taken[s] {
			taken[s] = true
			return s
		}
	}
}

// newUser draws user i. All of it comes from the user's own stream.
func (g *gen) newUser(i int, taken map[string]bool) *User {
	r := newRand(g.cfg.Seed, streamUsers+uint64(i))
	w, p := g.w, g.p
	homes := make([]float64, len(w.cities))
	for ci, c := range w.cities {
		homes[ci] = c.homes
	}
	u := &User{idx: i, ID: fmt.Sprintf("u%06d", i), home: weighted(r, homes), home6: -1}
	if i < g.cfg.BusyOffice {
		// The busy office's staff live around it.
		u.home, u.hq = g.hqCity, true
	}
	c := &w.cities[u.home]
	u.Username = username(r, c.Country, taken)
	u.joined = g.warmupStart
	if chance(r, g.cfg.NewUserShare) {
		// Signs up during the measured period: a user with no history.
		u.joined = g.start.Add(between(r, 0, g.end.Sub(g.start)))
	}

	hs := p.homeISPs[c.Country]
	shares := make([]float64, len(hs))
	for j, h := range hs {
		shares[j] = h.share
	}
	u.homeISP = hs[weighted(r, shares)]
	u.home4 = p.pick(r, p.residential[u.home], u.homeISP, false)
	u.addr4 = p.addr(r, u.home4)
	if u.homeISP.IPv6 {
		// The home keeps this /64 (of a delegated prefix, so its /48)
		// for good; only the interface id changes (withIID).
		u.home6 = p.pick(r, p.residential[u.home], u.homeISP, true)
		u.addr6 = p.addr(r, u.home6)
	}
	u.leaseDays = logNormal(r, 12, 1)
	if u.homeISP.ASN == 12322 || u.homeISP.ASN == 3215 && chance(r, 0.7) {
		u.leaseDays = 1e6 // Free and most Orange lines keep their address
	}
	cs := p.carriers[c.Country]
	shares = shares[:0]
	for _, h := range cs {
		shares = append(shares, h.share)
	}
	u.carrier = cs[weighted(r, shares)]
	switch {
	case u.hq:
		u.work = p.headquarters(u.home)
	case chance(r, 0.45):
		u.work = p.drawWorkplace(r, u.home)
	case chance(r, studentShare/0.55):
		if u.work = p.campusOf(u.home); u.work != nil {
			u.student = true
		}
	}

	// Devices: nearly everyone has a phone; most have a computer; some a
	// work laptop and a tablet.
	newID := func() string { return token(r) }
	if chance(r, 0.95) {
		k := devAndroid
		if chance(r, g.iosShare(c.Country)) {
			k = devIPhone
		}
		u.devices = append(u.devices, newDevice(r, k, newID()))
	}
	if chance(r, 0.85) || len(u.devices) == 0 {
		kinds := []deviceKind{devWindows, devMac, devLinux, devChromebook}
		d := newDevice(r, kinds[weighted(r, []float64{0.62, 0.28, 0.05, 0.05})], newID())
		deskShare := 0.4 // desktops among computers: fewer Macs, no Chromebooks
		switch d.Kind {
		case devMac:
			deskShare = 0.2
		case devChromebook:
			deskShare = 0
		}
		d.desk = chance(r, deskShare)
		u.devices = append(u.devices, d)
	}
	if u.hq || u.work != nil && !u.student && chance(r, 0.4) {
		d := newDevice(r, devWindows, newID()) // the work laptop or the office desktop
		d.desk = !u.hq && chance(r, 0.5)
		d.work = true
		u.devices = append(u.devices, d)
	}
	if chance(r, 0.15) {
		u.devices = append(u.devices, newDevice(r, devIPad, newID()))
	}
	u.cookieLoss = 0.01
	if chance(r, 0.05) {
		u.cookieLoss = 0.25 // private browsing, cookie cleaners
	}

	u.password = randomPassword(r)
	if chance(r, g.cfg.BreachedUserShare) {
		u.breached = true
		u.password = commonPasswords[r.IntN(len(commonPasswords))]
	}
	u.typo = 0.03 + 0.04*r.Float64()

	// How often: a heavy-tailed rate, median one login every two days.
	u.rate = min(5, max(1.0/14, logNormal(r, 0.5, 0.9)))
	u.peaks = drawPeaks(r)
	switch x := r.Float64(); {
	case x < 0.70:
		u.tripRate = 0.3 * r.Float64()
	case x < 0.95:
		u.tripRate = 0.5 + r.Float64()
	default:
		u.tripRate = 2 + 2*r.Float64() // business travellers
	}
	if chance(r, g.cfg.VPNUserShare) {
		v := &vpnHabit{provider: weighted(r, []float64{40, 35, 25}), country: c.Country, share: 0.3 + 0.7*r.Float64()}
		if chance(r, 0.3) {
			v.country = []string{"US", "GB", "NL", "CH"}[r.IntN(4)]
		}
		u.vpn = v
	}
	return u
}

// iosShare is the iPhone share of smartphones (StatCounter, rounded).
func (g *gen) iosShare(country string) float64 {
	switch country {
	case "US", "CA", "JP", "AU":
		return 0.55
	case "GB":
		return 0.5
	case "FR", "DE", "NL", "CH", "SE", "BE", "AT", "IE":
		return 0.33
	}
	return 0.25
}

// drawPeaks gives a user two or three habits among morning, lunch,
// evening and late night.
func drawPeaks(r *rand.Rand) []peak {
	cands := []peak{{8, 0.8, 1}, {12.8, 0.7, 0.6}, {20.5, 1.2, 1.3}, {17.5, 1, 0.5}, {23.5, 0.8, 0.15}, {10, 1.2, 0.5}}
	var ps []peak
	for len(ps) < 2 {
		ps = ps[:0]
		for _, c := range cands {
			if chance(r, c.weight/1.6) {
				c.hour += r.NormFloat64() * 0.5
				c.weight = 0.5 + r.Float64()
				ps = append(ps, c)
			}
		}
	}
	return ps
}

// localHour draws a local hour of day (fractional) from the user's habits;
// weekends start later.
func (u *User) localHour(r *rand.Rand, weekend bool) float64 {
	if chance(r, 0.04) {
		return 24 * r.Float64() // anything happens now and then
	}
	w := make([]float64, len(u.peaks))
	for i, p := range u.peaks {
		w[i] = p.weight
	}
	p := u.peaks[weighted(r, w)]
	h := p.hour + p.sd*r.NormFloat64()
	if weekend && p.hour < 12 {
		h += 1.5
	}
	for h < 0 {
		h += 24
	}
	for h >= 24 {
		h -= 24
	}
	return h
}
