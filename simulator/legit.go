package simulator

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// Legitimate behaviour. Each user lives day by day in the local time of
// wherever they are: a Poisson number of logins around their usual hours,
// each from one of their devices over the network they would be on (home
// broadband, the office, the phone's carrier, a hotel's wifi, their VPN),
// with the mistakes people make: typos, forgotten passwords, lost cookies,
// new phones, a friend's computer.

// Rates of the rarer events, per login unless stated.
const (
	forgetRate       = 0.004 // forgets the password: several failures, a reset, success later
	usernameTypoRate = 0.006 // mistypes the e-mail address: no_such_user, then the right one
	borrowedRate     = 0.004 // logs in once on someone else's computer
	phoneReplaceDay  = 1.0 / 700
	computerReplDay  = 1.0 / 1100
	weekendFactor    = 0.8
	homeV6Preference = 0.85 // dual-stack browsers prefer IPv6 (Happy Eyeballs)
	// officeTypo is the busy office's share of morning logins that start
	// with a mistyped password.
	officeTypo = 0.034
	// breachedChange is the chance, at each completed login with a
	// breached password, that the user obeys the service's demand to
	// change it (NIST SP 800-63B 5.1.1.2); some dismiss it once or twice.
	breachedChange = 0.9
)

// legitRef remembers a completed legitimate login, for session hijacks.
type legitRef struct {
	user   int
	at     time.Time
	device Device
	city   int
}

func (g *gen) legit(u *User) {
	r := newRand(g.cfg.Seed, 2*streamUsers+uint64(u.idx))
	trips := g.planTrips(u, r, g.warmupStart, g.end)
	leaseUntil := g.warmupStart.Add(expDur(r, time.Duration(u.leaseDays*24*float64(time.Hour))))
	for day := g.warmupStart; day.Before(g.end); day = day.AddDate(0, 0, 1) {
		g.replaceDevices(u, r)
		noon := day.Add(12 * time.Hour)
		pl := g.where(u, trips, noon)
		zn := g.w.cities[pl.city].zone
		wd := day.Add(zn.offset(noon)).Weekday()
		weekend := wd == time.Saturday || wd == time.Sunday
		mean := u.rate
		if weekend {
			mean *= weekendFactor
		}
		n := poisson(r, mean)
		hours := make([]float64, n)
		for i := range hours {
			hours[i] = u.localHour(r, weekend)
		}
		slices.Sort(hours)
		for _, h := range hours {
			t := zn.local(day.Add(time.Duration(h * float64(time.Hour)))).Truncate(time.Second)
			if t.Before(u.joined) || !t.Before(g.end) || t.Before(g.warmupStart) {
				continue
			}
			if u.home4 >= 0 && t.After(leaseUntil) {
				u.addr4 = g.p.addr(r, u.home4) // the ISP hands out a new address
				leaseUntil = t.Add(expDur(r, time.Duration(u.leaseDays*24*float64(time.Hour))))
			}
			g.session(u, r, trips, t, h, weekend)
		}
		if u.hq && !weekend {
			g.officeMorning(u, r, trips, zn.local(day.Add(8*time.Hour+15*time.Minute+between(r, 0, 90*time.Minute))))
		}
	}
}

// officeMorning is a busy-office employee arriving at work: a login from
// the work laptop over the office's NAT, a typo first now and then.
func (g *gen) officeMorning(u *User, r *rand.Rand, trips []trip, t time.Time) {
	t = t.Truncate(time.Second)
	pl := g.where(u, trips, t)
	if pl.transit || pl.abroad || pl.city != u.home || t.Before(u.joined) || t.Before(g.warmupStart) || !t.Before(g.end) {
		return
	}
	var laptop *Device
	for i := range u.devices {
		if u.devices[i].work {
			laptop = &u.devices[i]
		}
	}
	if laptop == nil {
		return
	}
	used := *laptop
	if chance(r, u.cookieLoss) {
		used.ID = token(r)
	}
	ip := u.work.addr(r)
	if chance(r, officeTypo) {
		g.emitLegit(u, t, &used, ip, typoOf(r, u.password), engine.ResultPasswordBad, pl)
		t = t.Add(between(r, 4*time.Second, 40*time.Second))
	}
	g.emitLegit(u, t, &used, ip, u.password, engine.ResultPasswordOK, pl)
	g.afterLogin(u, r)
}

// afterLogin is the service's reaction to a completed login: a user whose
// password is a known breached one is asked to change it, as the default
// rules' breached-password step-up expects the identity server to do.
func (g *gen) afterLogin(u *User, r *rand.Rand) {
	if slices.Contains(commonPasswords, u.password) && chance(r, breachedChange) {
		u.password = randomPassword(r)
	}
}

// replaceDevices retires devices now and then: a new phone (sometimes of
// the other platform), a new computer. The new one has a new cookie.
func (g *gen) replaceDevices(u *User, r *rand.Rand) {
	for i := range u.devices {
		d := &u.devices[i]
		if d.Kind.mobile() {
			if chance(r, phoneReplaceDay) {
				k := d.Kind
				if chance(r, 0.15) {
					k = devIPhone + devAndroid - k // switches platform
				}
				*d = newDevice(r, k, token(r))
			}
		} else if chance(r, computerReplDay) {
			*d = newDevice(r, d.Kind, token(r))
		}
	}
}

// session is one login: the device, the network, and the attempts it
// takes (one, or a typo and the retry, or a forgotten password).
func (g *gen) session(u *User, r *rand.Rand, trips []trip, t time.Time, localHour float64, weekend bool) {
	pl := g.where(u, trips, t)
	if pl.transit && pl.trip.flight {
		return // in the air
	}
	dev := g.pickDevice(u, r, pl, localHour, weekend)
	if dev == nil {
		return
	}
	if chance(r, u.cookieLoss) {
		dev.ID = token(r)
	}
	used := *dev
	if chance(r, borrowedRate) && !pl.transit {
		used = attackerDevice(r, token(r)) // a friend's or a library's computer
	}
	ip := g.network(u, r, pl, &used, localHour, weekend)
	if chance(r, usernameTypoRate) {
		// A slip in the e-mail address: the identity server finds no
		// such account, and the user corrects it.
		a := g.legitAttempt(u, t, &used, ip, u.password, engine.ResultNoSuchUser)
		a.UserID, a.Username = "", typoOf(r, u.Username)
		g.emitAttempt(u, t, a)
		t = t.Add(between(r, 5*time.Second, 30*time.Second))
	}
	switch {
	case chance(r, forgetRate):
		g.forgotten(u, r, trips, t, &used, ip)
		return
	case chance(r, u.typo*typoFactor(&used)):
		g.emitLegit(u, t, &used, ip, typoOf(r, u.password), engine.ResultPasswordBad, pl)
		t = t.Add(between(r, 4*time.Second, 40*time.Second))
	}
	g.emitLegit(u, t, &used, ip, u.password, engine.ResultPasswordOK, pl)
	g.afterLogin(u, r)
}

// typoFactor: phone keyboards make more typos.
func typoFactor(d *Device) float64 {
	if d.Kind.mobile() {
		return 1.5
	}
	return 1
}

// typoOf is the password with one slip: a doubled, dropped or swapped
// character, or caps lock.
func typoOf(r *rand.Rand, pw string) string {
	b := []byte(pw)
	i := r.IntN(len(b))
	switch r.IntN(4) {
	case 0:
		return string(b[:i]) + string(b[i]) + string(b[i:])
	case 1:
		return string(b[:i]) + string(b[i+1:])
	case 2:
		if i+1 < len(b) && b[i] != b[i+1] {
			b[i], b[i+1] = b[i+1], b[i]
			return string(b)
		}
		return pw + "1"
	}
	out := make([]byte, len(b))
	for j, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		out[j] = c
	}
	if string(out) == pw {
		return pw + "!"
	}
	return string(out)
}

// forgotten: two to five wrong passwords (old ones) within minutes, then a
// reset by e-mail and a login with the new password between ten minutes
// and three hours later, often on the phone the e-mail was read on.
func (g *gen) forgotten(u *User, r *rand.Rand, trips []trip, t time.Time, dev *Device, ip netip.Addr) {
	pl := g.where(u, trips, t)
	for range 2 + r.IntN(4) {
		g.emitLegit(u, t, dev, ip, randomPassword(r), engine.ResultPasswordBad, pl)
		t = t.Add(between(r, 15*time.Second, 90*time.Second))
	}
	u.password = randomPassword(r)
	if u.breached && chance(r, 0.5) {
		u.password = commonPasswords[r.IntN(len(commonPasswords))]
	}
	t = t.Add(between(r, 10*time.Minute, 3*time.Hour))
	if !t.Before(g.end) {
		return
	}
	pl = g.where(u, trips, t)
	if pl.transit && pl.trip.flight {
		return
	}
	if chance(r, 0.5) {
		for i := range u.devices {
			if u.devices[i].Kind.mobile() {
				dev = &u.devices[i]
				break
			}
		}
	}
	h := float64(t.Add(g.w.cities[pl.city].zone.offset(t)).Hour())
	ip = g.network(u, r, pl, dev, h, false)
	g.emitLegit(u, t, dev, ip, u.password, engine.ResultPasswordOK, pl)
	g.afterLogin(u, r)
}

// pickDevice chooses what the user logs in with: the phone most of the
// time, a computer at a desk, the tablet in the evening; on a trip only
// what travels.
func (g *gen) pickDevice(u *User, r *rand.Rand, pl place, localHour float64, weekend bool) *Device {
	w := make([]float64, len(u.devices))
	workHours := !weekend && localHour >= 9 && localHour < 18
	for i, d := range u.devices {
		switch d.Kind {
		case devIPhone, devAndroid:
			w[i] = 0.55
			if pl.abroad || pl.transit {
				w[i] = 0.75
			}
		case devIPad:
			w[i] = 0.1
			if localHour < 18 || pl.transit {
				w[i] = 0.03
			}
		default:
			w[i] = 0.35
			if workHours && u.work != nil {
				w[i] = 0.6
			}
			if (pl.abroad || pl.transit) && d.desk {
				w[i] = 0 // desktops stay home
			}
		}
	}
	if len(w) == 0 {
		return nil
	}
	return &u.devices[weighted(r, w)]
}

// network is the address the login comes from.
func (g *gen) network(u *User, r *rand.Rand, pl place, d *Device, localHour float64, weekend bool) netip.Addr {
	if u.vpn != nil {
		share := u.vpn.share
		if d.Kind.mobile() {
			share *= 0.3 // VPN apps on phones are switched on less
		}
		if pl.abroad {
			share = min(1, share*1.3) // public wifi
		}
		if chance(r, share) {
			return g.vpnAddr(r, u.vpn, u.home)
		}
	}
	switch {
	case pl.transit:
		return g.carrierAddr(r, u.carrier, d, u.home)
	case pl.abroad:
		if d.Kind.mobile() && chance(r, 0.55) {
			// Abroad, roaming data goes home through the home carrier, so
			// the phone appears in its home country.
			near := u.home
			if g.w.cities[pl.city].Country == g.w.cities[u.home].Country {
				near = pl.city
			}
			return g.carrierAddr(r, u.carrier, d, near)
		}
		return pl.trip.hotel
	}
	atWork := u.work != nil && !weekend && localHour >= 9 && localHour < 18 && chance(r, 0.8)
	if d.Kind.mobile() {
		switch {
		case atWork && chance(r, 0.35):
			return u.work.addr(r)
		case !atWork && (localHour < 8.5 || localHour >= 18.5 || weekend) && chance(r, 0.65):
			return g.homeAddr(u, r)
		}
		return g.carrierAddr(r, u.carrier, d, u.home)
	}
	if atWork {
		return u.work.addr(r)
	}
	return g.homeAddr(u, r)
}

func (g *gen) homeAddr(u *User, r *rand.Rand) netip.Addr {
	if u.home6 >= 0 && chance(r, homeV6Preference) {
		return withIID(r, u.addr6)
	}
	return u.addr4
}

// carrierAddr: every mobile session gets a fresh address from the
// carrier's pools, IPv6 when the carrier and the phone have it. Half the
// addresses geolocate only to the country; the others to a gateway, in
// 19 cases out of 20 the one nearest the phone (near is the user's
// home when roaming abroad: roaming data goes home first).
func (g *gen) carrierAddr(r *rand.Rand, c *ISP, d *Device, near int) netip.Addr {
	v6 := c.IPv6 && d.Kind.mobile() && chance(r, 0.7)
	var country, gateways []int
	for _, b := range g.p.mobile[c] {
		if g.p.blocks[b].prefix.Addr().Is6() != v6 {
			continue
		}
		if g.p.blocks[b].city < 0 {
			country = append(country, b)
		} else {
			gateways = append(gateways, b)
		}
	}
	if chance(r, 0.5) || len(gateways) == 0 {
		return g.p.cgnatAddr(r, country[r.IntN(len(country))])
	}
	b := gateways[r.IntN(len(gateways))]
	if chance(r, 0.95) {
		best := 1e9
		for _, x := range gateways {
			if km := g.w.distanceKM(near, g.p.blocks[x].city); km < best {
				b, best = x, km
			}
		}
	}
	return g.p.cgnatAddr(r, b)
}

// vpnAddr is an exit of the provider in the chosen country, or the one
// nearest home when it has none there.
func (g *gen) vpnAddr(r *rand.Rand, v *vpnHabit, home int) netip.Addr {
	exits := g.p.vpnExits[v.provider]
	var cand []int
	for _, b := range exits {
		if g.p.blocks[b].country == v.country {
			cand = append(cand, b)
		}
	}
	if len(cand) == 0 {
		best, bestKM := exits[0], 1e9
		for _, b := range exits {
			if km := g.w.distanceKM(home, g.p.blocks[b].city); km < bestKM {
				best, bestKM = b, km
			}
		}
		cand = []int{best}
	}
	return g.p.addr(r, cand[r.IntN(len(cand))])
}

func (g *gen) legitAttempt(u *User, t time.Time, d *Device, ip netip.Addr, password string, res engine.Result) engine.Attempt {
	return engine.Attempt{
		Tenant: g.cfg.Tenant, UserID: u.ID, Username: u.Username, IP: ip.String(),
		UserAgent: d.UA(t), DeviceID: d.ID, PasswordSHA1: sha1Hex(password), Result: res, Channel: "web",
	}
}

// emitAttempt queues a legitimate attempt: labelled legit in the measured
// period, unlabelled warm-up before it.
func (g *gen) emitAttempt(u *User, t time.Time, a engine.Attempt) {
	label, tag := LabelLegit, "legit"
	if t.Before(g.start) {
		label, tag = "", "warmup"
	}
	g.emit(uint64(u.idx), t, tag, label, true, a)
}

func (g *gen) emitLegit(u *User, t time.Time, d *Device, ip netip.Addr, password string, res engine.Result, pl place) {
	g.emitAttempt(u, t, g.legitAttempt(u, t, d, ip, password, res))
	if res == engine.ResultPasswordOK && !t.Before(g.start) {
		g.legitOK = append(g.legitOK, legitRef{user: u.idx, at: t, device: *d, city: pl.city})
	}
}
