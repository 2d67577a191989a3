package signals

import (
	"math"

	"github.com/riskgate/riskgate/engine"
)

// Location compares where the attempt comes from with the user's history:
// new country or city, and distance and speed since the last completed
// login. Each fix carries an accuracy radius; travel is only impossible
// when the two circles of uncertainty do not overlap and crossing the gap
// between them would still need more than MaxSpeedKMH.
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
		g.HoursSince = max(0, float64(in.Time.Unix()-p.Last.Time)/3600)
	}
	if !g.Known {
		return nil
	}
	if g.Country != "" && len(p.Countries) > 0 {
		g.NewCountry = !engine.Has(p.Countries, g.Country)
	}
	if g.City != "" && g.Country != "" && len(p.Cities) > 0 {
		g.NewCity = !p.HasCity(g.Country, g.City)
	}
	if g.HasCoordinates && p.Last.HasLocation && p.Last.Time > 0 {
		g.VelocityKnown = true
		g.DistanceKM = Haversine(p.Last.Lat, p.Last.Lon, g.Lat, g.Lon)
		gap := g.DistanceKM - g.AccuracyKM - p.Last.AccuracyKM
		if gap > 0 {
			g.SpeedKMH = gap / max(g.HoursSince, minTravelHours)
			g.ImpossibleTravel = g.SpeedKMH > s.MaxSpeedKMH
		}
	}
	return nil
}

// earthRadiusKM is the mean Earth radius (IUGG).
const earthRadiusKM = 6371.0088

// Haversine returns the great-circle distance in km between two points
// given in degrees.
func Haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ, dλ := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * earthRadiusKM * math.Asin(math.Min(1, math.Sqrt(a)))
}
