package simulator

import (
	"math"
	"time"
)

// continent groups countries for "another continent" (session hijacks) and
// for travel: eu, na, sa, as, af, oc.
type continent string

// dstRule is a daylight-saving rule. The simulator keeps its own small
// table of offsets rather than reading the system's tz database, so that
// the same seed gives the same stream on every machine.
type dstRule uint8

const (
	dstNone dstRule = iota
	dstEU           // last Sunday of March to last Sunday of October, 01:00 UTC
	dstUS           // second Sunday of March to first Sunday of November, 02:00 local
	dstAU           // first Sunday of October to first Sunday of April, 02:00 local standard time
)

// zone is a city's standard UTC offset and its daylight-saving rule.
type zone struct {
	std time.Duration
	dst dstRule
}

// offset is the zone's UTC offset at t.
func (z zone) offset(t time.Time) time.Duration {
	if z.dst != dstNone && z.inDST(t.UTC()) {
		return z.std + time.Hour
	}
	return z.std
}

func (z zone) inDST(t time.Time) bool {
	y := t.Year()
	switch z.dst {
	case dstEU:
		start := lastSunday(y, time.March).Add(time.Hour)
		end := lastSunday(y, time.October).Add(time.Hour)
		return !t.Before(start) && t.Before(end)
	case dstUS:
		start := nthSunday(y, time.March, 2).Add(2*time.Hour - z.std)
		end := nthSunday(y, time.November, 1).Add(2*time.Hour - z.std - time.Hour)
		return !t.Before(start) && t.Before(end)
	case dstAU:
		// Southern hemisphere: summer time spans the new year.
		end := nthSunday(y, time.April, 1).Add(3*time.Hour - z.std - time.Hour)
		start := nthSunday(y, time.October, 1).Add(2*time.Hour - z.std)
		return t.Before(end) || !t.Before(start)
	}
	return false
}

// nthSunday is midnight UTC of the n-th Sunday of the month.
func nthSunday(y int, m time.Month, n int) time.Time {
	d := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d.AddDate(0, 0, 7*(n-1))
}

func lastSunday(y int, m time.Month) time.Time {
	d := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	for d.Weekday() != time.Sunday {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// local converts a wall-clock time in the zone (given as a UTC time whose
// fields are the local ones) to the real UTC instant.
func (z zone) local(wall time.Time) time.Time {
	t := wall.Add(-z.std)
	return wall.Add(-z.offset(t))
}

// City is a real city: its coordinates are the city centre's (GeoNames,
// four decimals), its subdivision the ISO 3166-2 code without the country.
type City struct {
	Name        string
	Country     string
	Subdivision string
	Lat, Lon    float64
	zone        zone
	// homes is the share of the simulated service's users living here,
	// in arbitrary units; 0 means nobody lives here (attack sources,
	// data centres, holiday destinations).
	homes float64
}

// Country holds what the simulator knows of a country.
type Country struct {
	Code      string
	Continent continent
	// Lat, Lon is a point inside the country, written as the coordinates
	// of country-level GeoIP records (the engine ignores them, as it does
	// for real country-level fixes).
	Lat, Lon float64
	// MobileAccuracyKM is the accuracy radius GeoIP databases give the
	// country's mobile carrier gateways: about the distance a carrier's
	// traffic may travel before it leaves the carrier's network.
	MobileAccuracyKM uint16
}

func z(h float64, d dstRule) zone { return zone{std: time.Duration(h * float64(time.Hour)), dst: d} }

// countries lists every country the simulator places a city in.
var countries = []Country{
	{"FR", "eu", 46.2276, 2.2137, 500}, {"DE", "eu", 51.1657, 10.4515, 500}, {"GB", "eu", 52.3555, -1.1743, 500},
	{"ES", "eu", 40.4637, -3.7492, 500}, {"IT", "eu", 41.8719, 12.5674, 500}, {"NL", "eu", 52.1326, 5.2913, 100},
	{"BE", "eu", 50.5039, 4.4699, 100}, {"CH", "eu", 46.8182, 8.2275, 100}, {"AT", "eu", 47.5162, 14.5501, 200},
	{"PL", "eu", 51.9194, 19.1451, 500}, {"SE", "eu", 60.1282, 18.6435, 500}, {"IE", "eu", 53.4129, -8.2439, 200},
	{"PT", "eu", 39.3999, -8.2245, 200}, {"RO", "eu", 45.9432, 24.9668, 500}, {"UA", "eu", 48.3794, 31.1656, 500},
	{"RU", "eu", 61.5240, 105.3188, 1000}, {"TR", "as", 38.9637, 35.2433, 500}, {"FI", "eu", 61.9241, 25.7482, 500},
	{"US", "na", 37.0902, -95.7129, 1000}, {"CA", "na", 56.1304, -106.3468, 1000}, {"MX", "na", 23.6345, -102.5528, 1000},
	{"BR", "sa", -14.2350, -51.9253, 1000}, {"AR", "sa", -38.4161, -63.6167, 1000},
	{"JP", "as", 36.2048, 138.2529, 500}, {"SG", "as", 1.3521, 103.8198, 50}, {"IN", "as", 20.5937, 78.9629, 1000},
	{"VN", "as", 14.0583, 108.2772, 500}, {"ID", "as", -0.7893, 113.9213, 1000}, {"CN", "as", 35.8617, 104.1954, 1000},
	{"KR", "as", 35.9078, 127.7669, 200}, {"TH", "as", 15.8700, 100.9925, 500}, {"PH", "as", 12.8797, 121.7740, 500},
	{"AE", "as", 23.4241, 53.8478, 200}, {"HK", "as", 22.3193, 114.1694, 50}, {"PK", "as", 30.3753, 69.3451, 1000},
	{"NG", "af", 9.0820, 8.6753, 1000}, {"ZA", "af", -30.5595, 22.9375, 1000}, {"EG", "af", 26.8206, 30.8025, 500},
	{"AU", "oc", -25.2744, 133.7751, 1000},
}

// cities: where users live, where they travel, where data centres and
// attackers are. homes weights put most users in Western Europe and North
// America, the market of a European service with international users.
var cities = []City{
	// France
	{"Paris", "FR", "IDF", 48.8566, 2.3522, z(1, dstEU), 14},
	{"Lyon", "FR", "ARA", 45.7640, 4.8357, z(1, dstEU), 4},
	{"Marseille", "FR", "PAC", 43.2965, 5.3698, z(1, dstEU), 3},
	{"Lille", "FR", "HDF", 50.6292, 3.0573, z(1, dstEU), 2},
	{"Bordeaux", "FR", "NAQ", 44.8378, -0.5792, z(1, dstEU), 2},
	{"Toulouse", "FR", "OCC", 43.6047, 1.4442, z(1, dstEU), 2},
	{"Nantes", "FR", "PDL", 47.2184, -1.5536, z(1, dstEU), 2},
	{"Roubaix", "FR", "HDF", 50.6942, 3.1746, z(1, dstEU), 0},
	// Germany
	{"Berlin", "DE", "BE", 52.5200, 13.4050, z(1, dstEU), 5},
	{"Munich", "DE", "BY", 48.1351, 11.5820, z(1, dstEU), 3},
	{"Hamburg", "DE", "HH", 53.5511, 9.9937, z(1, dstEU), 2},
	{"Frankfurt am Main", "DE", "HE", 50.1109, 8.6821, z(1, dstEU), 2},
	{"Cologne", "DE", "NW", 50.9375, 6.9603, z(1, dstEU), 2},
	{"Falkenstein", "DE", "SN", 50.4779, 12.3713, z(1, dstEU), 0},
	{"Nuremberg", "DE", "BY", 49.4521, 11.0767, z(1, dstEU), 0},
	// United Kingdom
	{"London", "GB", "ENG", 51.5074, -0.1278, z(0, dstEU), 8},
	{"Manchester", "GB", "ENG", 53.4808, -2.2426, z(0, dstEU), 2},
	{"Edinburgh", "GB", "SCT", 55.9533, -3.1883, z(0, dstEU), 1},
	// Rest of Europe
	{"Madrid", "ES", "MD", 40.4168, -3.7038, z(1, dstEU), 3},
	{"Barcelona", "ES", "CT", 41.3874, 2.1686, z(1, dstEU), 2},
	{"Rome", "IT", "62", 41.9028, 12.4964, z(1, dstEU), 2},
	{"Milan", "IT", "25", 45.4642, 9.1900, z(1, dstEU), 2},
	{"Amsterdam", "NL", "NH", 52.3676, 4.9041, z(1, dstEU), 3},
	{"Rotterdam", "NL", "ZH", 51.9244, 4.4777, z(1, dstEU), 1},
	{"Brussels", "BE", "BRU", 50.8503, 4.3517, z(1, dstEU), 2},
	{"Zurich", "CH", "ZH", 47.3769, 8.5417, z(1, dstEU), 1.5},
	{"Geneva", "CH", "GE", 46.2044, 6.1432, z(1, dstEU), 1},
	{"Vienna", "AT", "9", 48.2082, 16.3738, z(1, dstEU), 1.5},
	{"Warsaw", "PL", "14", 52.2297, 21.0122, z(1, dstEU), 1.5},
	{"Stockholm", "SE", "AB", 59.3293, 18.0686, z(1, dstEU), 1},
	{"Dublin", "IE", "L", 53.3498, -6.2603, z(0, dstEU), 1},
	{"Lisbon", "PT", "11", 38.7223, -9.1393, z(0, dstEU), 1},
	{"Helsinki", "FI", "18", 60.1699, 24.9384, z(2, dstEU), 0},
	{"Bucharest", "RO", "B", 44.4268, 26.1025, z(2, dstEU), 0},
	{"Kyiv", "UA", "30", 50.4501, 30.5234, z(2, dstEU), 0},
	{"Moscow", "RU", "MOW", 55.7558, 37.6173, z(3, dstNone), 0},
	{"Saint Petersburg", "RU", "SPE", 59.9311, 30.3609, z(3, dstNone), 0},
	{"Istanbul", "TR", "34", 41.0082, 28.9784, z(3, dstNone), 0},
	// North America
	{"New York", "US", "NY", 40.7128, -74.0060, z(-5, dstUS), 4},
	{"Boston", "US", "MA", 42.3601, -71.0589, z(-5, dstUS), 1.5},
	{"Washington", "US", "DC", 38.9072, -77.0369, z(-5, dstUS), 1.5},
	{"Chicago", "US", "IL", 41.8781, -87.6298, z(-6, dstUS), 2},
	{"Austin", "US", "TX", 30.2672, -97.7431, z(-6, dstUS), 1},
	{"Dallas", "US", "TX", 32.7767, -96.7970, z(-6, dstUS), 0},
	{"San Francisco", "US", "CA", 37.7749, -122.4194, z(-8, dstUS), 2},
	{"Los Angeles", "US", "CA", 34.0522, -118.2437, z(-8, dstUS), 2},
	{"Seattle", "US", "WA", 47.6062, -122.3321, z(-8, dstUS), 1},
	{"Ashburn", "US", "VA", 39.0438, -77.4874, z(-5, dstUS), 0},
	{"Toronto", "CA", "ON", 43.6532, -79.3832, z(-5, dstUS), 1.5},
	{"Montreal", "CA", "QC", 45.5019, -73.5674, z(-5, dstUS), 1},
	{"Mexico City", "MX", "CMX", 19.4326, -99.1332, z(-6, dstNone), 0},
	// South America
	{"São Paulo", "BR", "SP", -23.5505, -46.6333, z(-3, dstNone), 0.5},
	{"Rio de Janeiro", "BR", "RJ", -22.9068, -43.1729, z(-3, dstNone), 0},
	{"Buenos Aires", "AR", "C", -34.6037, -58.3816, z(-3, dstNone), 0},
	// Asia
	{"Tokyo", "JP", "13", 35.6762, 139.6503, z(9, dstNone), 1},
	{"Osaka", "JP", "27", 34.6937, 135.5023, z(9, dstNone), 0},
	{"Singapore", "SG", "01", 1.3521, 103.8198, z(8, dstNone), 0.7},
	{"Mumbai", "IN", "MH", 19.0760, 72.8777, z(5.5, dstNone), 0.5},
	{"Bengaluru", "IN", "KA", 12.9716, 77.5946, z(5.5, dstNone), 0.5},
	{"Hanoi", "VN", "HN", 21.0278, 105.8342, z(7, dstNone), 0},
	{"Ho Chi Minh City", "VN", "SG", 10.8231, 106.6297, z(7, dstNone), 0},
	{"Jakarta", "ID", "JK", -6.2088, 106.8456, z(7, dstNone), 0},
	{"Beijing", "CN", "BJ", 39.9042, 116.4074, z(8, dstNone), 0},
	{"Shanghai", "CN", "SH", 31.2304, 121.4737, z(8, dstNone), 0},
	{"Seoul", "KR", "11", 37.5665, 126.9780, z(9, dstNone), 0},
	{"Bangkok", "TH", "10", 13.7563, 100.5018, z(7, dstNone), 0},
	{"Manila", "PH", "00", 14.5995, 120.9842, z(8, dstNone), 0},
	{"Dubai", "AE", "DU", 25.2048, 55.2708, z(4, dstNone), 0},
	{"Hong Kong", "HK", "", 22.3193, 114.1694, z(8, dstNone), 0},
	{"Karachi", "PK", "SD", 24.8607, 67.0011, z(5, dstNone), 0},
	// Africa
	{"Lagos", "NG", "LA", 6.5244, 3.3792, z(1, dstNone), 0},
	{"Abuja", "NG", "FC", 9.0765, 7.3986, z(1, dstNone), 0},
	{"Johannesburg", "ZA", "GP", -26.2041, 28.0473, z(2, dstNone), 0},
	{"Cairo", "EG", "C", 30.0444, 31.2357, z(2, dstNone), 0},
	// Oceania
	{"Sydney", "AU", "NSW", -33.8688, 151.2093, z(10, dstAU), 0.8},
	{"Melbourne", "AU", "VIC", -37.8136, 144.9631, z(10, dstAU), 0.5},
}

// world indexes the tables. It is built once per Generate and only read.
type world struct {
	cities    []City
	countries []Country
	byCountry map[string]*Country // lookups only, never iterated
	cityIdx   map[string]int      // city name -> index, lookups only
	inCountry map[string][]int    // country -> its cities, in table order
}

func newWorld() *world {
	w := &world{cities: cities, countries: countries, byCountry: map[string]*Country{}, cityIdx: map[string]int{}, inCountry: map[string][]int{}}
	for i := range w.countries {
		w.byCountry[w.countries[i].Code] = &w.countries[i]
	}
	for i, c := range w.cities {
		w.cityIdx[c.Name] = i
		w.inCountry[c.Country] = append(w.inCountry[c.Country], i)
	}
	return w
}

func (w *world) city(name string) int {
	i, ok := w.cityIdx[name]
	if !ok {
		panic("sim: unknown city " + name) // a typo in the tables, caught by the tests
	}
	return i
}

func (w *world) continentOf(city int) continent { return w.byCountry[w.cities[city].Country].Continent }

// distanceKM is the great-circle distance between two cities.
func (w *world) distanceKM(a, b int) float64 {
	ca, cb := &w.cities[a], &w.cities[b]
	return haversine(ca.Lat, ca.Lon, cb.Lat, cb.Lon)
}

func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dφ, dλ := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * 6371.0088 * math.Asin(math.Min(1, math.Sqrt(a)))
}
