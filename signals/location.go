package signals

import (
	"math"

	"github.com/riskgate/riskgate/engine"
)

// Location compares where the attempt comes from with the user's history:
// new country or city, and distance and speed since the last completed
// login. Each fix carries an accuracy radius; travel is only impossible
// when the two circles of uncertainty do not overlap and crossing the gap
// between them would need more than MaxSpeedKMH or less time than the
// fastest trip door to door (travelHours).
type Location struct {
	MaxSpeedKMH float64
}

func (Location) Name() string { return "location" }

// minTravelHours floors the time between two logins, so that two logins in
// the same second give a large but finite speed.
const minTravelHours = 1.0 / 60

func (s Location) Compute(in *engine.Input, env *engine.Env) error {
	loc := &in.Enrichment.Location
	g := &env.Geo
	g.Source = "none"
	if loc.Known {
		g.Known = true
		g.Source = loc.Source
		g.Country, g.Subdivision, g.City = loc.Country, loc.Subdivision, loc.City
		if loc.HasCoordinates {
			g.HasCoordinates = true
			g.Lat, g.Lon, g.AccuracyKM = loc.Lat, loc.Lon, loc.AccuracyKM
		}
	}
	if !env.User.Known {
		return nil
	}
	p := &in.State.Profile
	g.PreviousCountry = p.Last.Country
	if p.Last.Time > 0 {
		// Either way: an attempt dated before the last completed login
		// (an event that arrives late, an identity server whose clock is
		// behind) is as far from it in time as one after, and the trip
		// between the two takes as long in either order. Taken as 0, a
		// login dated two days earlier from New York was a trip from
		// Paris within the one-minute floor (348,717 km/h).
		g.HoursSince = hoursApart(in.Time.Unix(), p.Last.Time)
	}
	if !g.Known {
		return nil
	}
	if g.Country != "" && len(p.Countries) > 0 {
		g.NewCountry = true
		for i := range p.Countries {
			if p.Countries[i].Value == g.Country {
				g.NewCountry = false
				g.CountryDaysSince = max(0, float64(in.Time.Unix()-p.Countries[i].Last)/86400)
				break
			}
		}
	}
	if g.City != "" && g.Country != "" && len(p.Cities) > 0 {
		g.NewCity = !p.HasCity(g.Country, g.City)
	}
	if !g.HasCoordinates || !p.Last.HasLocation || p.Last.Time <= 0 {
		return nil
	}
	if !p.Last.FixCarried() {
		g.VelocityKnown = true
		g.DistanceKM = Haversine(p.Last.Lat, p.Last.Lon, g.Lat, g.Lon)
		gap := g.DistanceKM - fixRadius(g.AccuracyKM) - fixRadius(p.Last.AccuracyKM)
		if gap > 0 {
			g.SpeedKMH = gap / max(g.HoursSince, minTravelHours)
			g.ImpossibleTravel = g.SpeedKMH > s.MaxSpeedKMH || g.HoursSince < s.travelHours(gap)
		}
		return nil
	}
	// The last login had no coordinates; its fix is the last located
	// login's, older. Travel since that fix is measured, but it only
	// speaks when it proves the trip impossible: a possible one over a
	// longer span says less than the two-hour country check (country-hop)
	// that a country-only last login leaves in force.
	hours := hoursApart(in.Time.Unix(), p.Last.FixTime)
	d := Haversine(p.Last.Lat, p.Last.Lon, g.Lat, g.Lon)
	if gap := d - fixRadius(g.AccuracyKM) - fixRadius(p.Last.AccuracyKM); gap > 0 {
		if speed := gap / max(hours, minTravelHours); speed > s.MaxSpeedKMH || hours < s.travelHours(gap) {
			g.VelocityKnown, g.ImpossibleTravel = true, true
			g.DistanceKM, g.SpeedKMH = d, speed
		}
	}
	return nil
}

// minFixKM floors a fix's radius of uncertainty. City databases give
// radii down to 1 km, but an address is placed where its network is
// registered or routed: a home line in one town and the mobile carrier's
// gateway in the next are often tens of kilometres apart in one metro
// area, minutes apart in time (home wifi, then mobile data). With the
// database's 5 km radii, Paris and Fontainebleau (57 km) five minutes
// apart on the user's own device was impossible travel, stepped up with
// an alert. 50 km is what a CDN's hint gets, from the same kind of lookup.
const minFixKM = engine.CityAccuracyKM

func fixRadius(km float64) float64 { return max(km, minFixKM) }

// hoursApart is the time between two instants (unix seconds), in hours,
// whichever comes first.
func hoursApart(a, b int64) float64 {
	return math.Abs(float64(a-b)) / 3600
}

// travelHours is the least time anyone needs to cover km door to door:
// on the ground at groundKMH (a high-speed train, no stops), or by air at
// MaxSpeedKMH plus flightOverheadHours to board and leave the aircraft.
// Speed alone misses the overheads: 1,956 km in 1.4 hours is under
// 1,000 km/h, yet no flight gets from Paris to Istanbul door to door that
// fast.
func (s Location) travelHours(km float64) float64 {
	return min(km/groundKMH, flightOverheadHours+km/s.MaxSpeedKMH)
}

const (
	groundKMH           = 300
	flightOverheadHours = 1.0
)

// earthRadiusKM is the mean Earth radius (IUGG).
const earthRadiusKM = 6371.0088

// Haversine returns the great-circle distance in km between two points
// given in degrees.
//
// Every Score of a located known user computes one, so it does no more
// work than its result needs: each half-angle's sine is computed once
// (math.Sin is not a call the compiler merges), and the same point twice,
// the commonest case (a user at home, on the same city's fix), returns 0
// without the trigonometry, which gives +0 exactly there.
// TestHaversineMatchesFormula holds both to the formula as written out.
func Haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dφ, dλ := (lat2-lat1)*rad, (lon2-lon1)*rad
	if dφ == 0 && dλ == 0 {
		// Both differences are zero only for finite coordinates (an
		// infinite one gives NaN), where every term below is ±0.
		return 0
	}
	φ1, φ2 := lat1*rad, lat2*rad
	sφ, sλ := math.Sin(dφ/2), math.Sin(dλ/2)
	a := sφ*sφ + math.Cos(φ1)*math.Cos(φ2)*sλ*sλ
	return 2 * earthRadiusKM * math.Asin(math.Min(1, math.Sqrt(a)))
}
