package geoip

import (
	"math"
	"strconv"

	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"

	"github.com/riskgate/riskgate/engine"
)

// Source is the engine.Location.Source of a fix from a database.
const Source = "geoip"

// DefaultAccuracyKM is the radius given to coordinates that come without
// one: DB-IP Lite has no accuracy radius, and a GeoIP2 record may omit it.
// 100 km is a coarse city-level fix, on the cautious side: a larger circle
// makes travel look slower, never impossible by mistake.
const DefaultAccuracyKM = 100

// Result is what the databases say about one address. The zero Result
// means "unknown".
type Result struct {
	Location engine.Location // Known only when a city database located the address

	ASN   uint32 // 0 when no ASN database knows the address
	ASOrg string

	AnonymousKnown bool // an Anonymous-IP database was consulted
	VPN            bool
	Tor            bool
	Proxy          bool // public or residential proxy
	Hosting        bool
}

// setLocation records a city database's answer. A record without a country
// is no fix. A country-only record's coordinates are the country's centroid
// and are dropped: a centroid with a 1000 km radius tells distance and
// speed nothing and would make a login from the other end of a large
// country look like travel. Subdivision- or city-level coordinates are kept
// with the database's radius.
func (r *Result) setLocation(country, subdivision, city string, lat, lon *float64, accuracyKM, defaultAccuracy float64) bool {
	if len(country) != 2 {
		return false
	}
	l := &r.Location
	*l = engine.Location{Known: true, Source: Source, Country: engine.CountryCode(country), Subdivision: subdivision, City: city}
	if lat != nil && lon != nil && (city != "" || subdivision != "") && validCoordinates(*lat, *lon) {
		l.HasCoordinates = true
		l.Lat, l.Lon = *lat, *lon
		l.AccuracyKM = accuracyKM
		if l.AccuracyKM <= 0 {
			l.AccuracyKM = defaultAccuracy
		}
	}
	return true
}

func validCoordinates(lat, lon float64) bool {
	return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 && !(lat == 0 && lon == 0)
}

func (r *Result) setASN(number uint, org string) bool {
	if number == 0 || number > math.MaxUint32 {
		return false
	}
	r.ASN, r.ASOrg = uint32(number), org
	return true
}

func (r *Result) setAnonymous(vpn, tor, proxy, hosting bool) {
	r.AnonymousKnown = true
	r.VPN = r.VPN || vpn
	r.Tor = r.Tor || tor
	r.Proxy = r.Proxy || proxy
	r.Hosting = r.Hosting || hosting
}

// apply copies r into the engine's enrichment. It only adds: an earlier
// enricher's answer stays unless r knows better.
func (r *Result) apply(e *engine.Enrichment) {
	if r.Location.Known {
		e.Location = r.Location
	}
	n := &e.Network
	if r.ASN != 0 {
		n.ASN, n.ASOrg = r.ASN, r.ASOrg
	}
	if r.AnonymousKnown {
		n.AnonymousKnown = true
		n.VPN = n.VPN || r.VPN
		n.Tor = n.Tor || r.Tor
		n.Proxy = n.Proxy || r.Proxy
		n.Hosting = n.Hosting || r.Hosting
	}
}

// flatCity is a record of the ip-location-db city databases (DB-IP Lite,
// GeoLite2 rebuilt): country_code, state1, state2, city, postcode,
// latitude, longitude, timezone at the top level.
type flatCity struct {
	CountryCode string    `maxminddb:"country_code"`
	State1      string    `maxminddb:"state1"`
	City        string    `maxminddb:"city"`
	Latitude    flexFloat `maxminddb:"latitude"`
	Longitude   flexFloat `maxminddb:"longitude"`
}

// flatASN is a record of the ip-location-db ASN databases.
type flatASN struct {
	Number uint   `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// flexFloat reads a coordinate stored as float32, float64 or a decimal
// string: ip-location-db's builder writes float32, older builds of the same
// files (made with mmdbmeld) declared the coordinates as strings.
type flexFloat struct {
	v  float64
	ok bool
}

func (f *flexFloat) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	kind, err := c.Kind()
	if err != nil {
		return mmdbdata.Cursor{}, err
	}
	if kind == mmdbdata.KindString {
		s, next, err := c.ReadString()
		if err != nil {
			return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[flexFloat](err)
		}
		if s != "" {
			v, perr := strconv.ParseFloat(s, 64)
			f.v, f.ok = v, perr == nil && !math.IsNaN(v)
		}
		return next, nil
	}
	v, next, err := c.ReadFloat()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[flexFloat](err)
	}
	// A float32 such as 48.8566 reads back as 48.856601715087891; float32
	// holds seven significant digits, so five decimals (~1 m) are exact.
	f.v, f.ok = math.Round(v*1e5)/1e5, !math.IsNaN(v)
	return next, nil
}
