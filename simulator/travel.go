package simulator

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// trip is one journey away from home and back. Travel times are honest:
// a train averages 200 km/h door to door on top of half an hour; a flight
// adds 1.5 h to get to the airport and through security, 0.6 h of taxiing
// and climbing, the distance at 780 km/h, and 0.75 h to get out. Nobody
// moves faster than that, so every "impossible travel" a legitimate user
// shows comes from how the network locates them (mobile gateways, VPN
// exits), as it does in real traffic.
type trip struct {
	dest           int
	flight         bool
	depart, arrive time.Time // outbound
	back, home     time.Time // return
	hotel          netip.Addr
}

const (
	trainKMH        = 200.0
	flightKMH       = 780.0
	toAirport       = 90 * time.Minute
	taxiAndClimb    = 36 * time.Minute
	outOfAirport    = 45 * time.Minute
	trainOverhead   = 30 * time.Minute
	maxTrainKM      = 800.0
	minTravelLegDur = time.Hour
)

// travelTime is door to door.
func travelTime(km float64, flight bool) time.Duration {
	if !flight {
		return max(minTravelLegDur, trainOverhead+time.Duration(km/trainKMH*float64(time.Hour)))
	}
	return toAirport + taxiAndClimb + time.Duration(km/flightKMH*float64(time.Hour)) + outOfAirport
}

// planTrips draws the user's trips between from and to: domestic ones
// (other cities of the country, by train when close), trips within the
// continent and, more rarely, to another continent.
func (g *gen) planTrips(u *User, r *rand.Rand, from, to time.Time) []trip {
	w := g.w
	days := to.Sub(from).Hours() / 24
	n := poisson(r, u.tripRate*days/30)
	home := &w.cities[u.home]
	var trips []trip
	for range n {
		var cand []int
		var stay int
		switch x := r.Float64(); {
		case x < 0.45 && len(w.inCountry[home.Country]) > 1:
			for _, ci := range w.inCountry[home.Country] {
				if ci != u.home {
					cand = append(cand, ci)
				}
			}
			stay = 1 + r.IntN(3)
		case x < 0.85:
			for ci, c := range w.cities {
				if c.Country != home.Country && w.continentOf(ci) == w.continentOf(u.home) && c.homes > 0 {
					cand = append(cand, ci)
				}
			}
			stay = 2 + r.IntN(5)
		default:
			for ci, c := range w.cities {
				if w.continentOf(ci) != w.continentOf(u.home) && (c.homes > 0 || c.Country == "TH" || c.Country == "AE" || c.Country == "MX") {
					cand = append(cand, ci)
				}
			}
			stay = 5 + r.IntN(8)
		}
		if len(cand) == 0 {
			continue
		}
		dest := cand[r.IntN(len(cand))]
		km := w.distanceKM(u.home, dest)
		flight := km > maxTrainKM || w.continentOf(dest) != w.continentOf(u.home) || home.Country == "US" && km > 400
		day := from.Add(time.Duration(r.IntN(int(days))) * 24 * time.Hour).Truncate(24 * time.Hour)
		dz, hz := w.cities[dest].zone, home.zone
		depart := hz.local(day.Add(time.Duration((7 + 12*r.Float64()) * float64(time.Hour))))
		leg := travelTime(km, flight)
		t := trip{dest: dest, flight: flight, depart: depart, arrive: depart.Add(leg)}
		backDay := day.AddDate(0, 0, stay)
		t.back = dz.local(backDay.Add(time.Duration((8 + 12*r.Float64()) * float64(time.Hour))))
		if !t.back.After(t.arrive.Add(6 * time.Hour)) {
			t.back = t.arrive.Add(20 * time.Hour)
		}
		t.home = t.back.Add(leg)
		if b := g.p.business[dest]; len(b) > 0 {
			t.hotel = g.p.addr(r, b[0]) // the hotel's wifi: a business line of the city's main ISP
		}
		if !t.hotel.IsValid() {
			continue
		}
		trips = append(trips, t)
	}
	slices.SortFunc(trips, func(a, b trip) int { return a.depart.Compare(b.depart) })
	// Trips do not overlap: a later trip that starts before the previous
	// one is over is dropped.
	out := trips[:0]
	for _, t := range trips {
		if len(out) > 0 && t.depart.Before(out[len(out)-1].home.Add(12*time.Hour)) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// place is where a user is at some instant.
type place struct {
	city    int
	abroad  bool  // at a trip's destination
	transit bool  // between two cities
	trip    *trip // when abroad or in transit
}

func (g *gen) where(u *User, trips []trip, t time.Time) place {
	for i := range trips {
		tr := &trips[i]
		switch {
		case t.Before(tr.depart) || !t.Before(tr.home):
			continue
		case t.Before(tr.arrive) || !t.Before(tr.back):
			return place{city: u.home, transit: true, trip: tr}
		default:
			return place{city: tr.dest, abroad: true, trip: tr}
		}
	}
	return place{city: u.home}
}
