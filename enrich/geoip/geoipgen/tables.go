package geoipgen

import (
	"net/netip"
	"path/filepath"
)

// The default tables. Coordinates are the cities' real ones (city-centre
// values as GeoNames gives them, to four decimals); accuracy radii are of
// the kind MaxMind publishes (10-100 km for a city, 1000 km for a country).
// The networks are real public ranges of plausible owners, but the data is
// made up: do not read it as a statement about those networks. Two
// documentation ranges (203.0.113.0/24, 2001:db8::/32) are included to
// show that reserved addresses are answered by the database but never
// looked up by the engine.
var (
	Paris       = City{Network: "81.2.69.0/24", Country: "FR", Subdivision: "IDF", SubdivisionName: "Île-de-France", City: "Paris", Lat: 48.8566, Lon: 2.3522, AccuracyKM: 20, TimeZone: "Europe/Paris"}
	Lyon        = City{Network: "81.2.70.0/24", Country: "FR", Subdivision: "ARA", SubdivisionName: "Auvergne-Rhône-Alpes", City: "Lyon", Lat: 45.7640, Lon: 4.8357, AccuracyKM: 20, TimeZone: "Europe/Paris"}
	Versailles  = City{Network: "81.2.71.0/24", Country: "FR", Subdivision: "IDF", SubdivisionName: "Île-de-France", City: "Versailles", Lat: 48.8049, Lon: 2.1204, AccuracyKM: 20, TimeZone: "Europe/Paris"} // 17 km from Paris: the circles overlap
	London      = City{Network: "2.125.160.0/24", Country: "GB", Subdivision: "ENG", SubdivisionName: "England", City: "London", Lat: 51.5074, Lon: -0.1278, AccuracyKM: 10, TimeZone: "Europe/London"}
	Berlin      = City{Network: "89.160.20.0/24", Country: "DE", Subdivision: "BE", SubdivisionName: "Land Berlin", City: "Berlin", Lat: 52.5200, Lon: 13.4050, AccuracyKM: 20, TimeZone: "Europe/Berlin"}
	NewYork     = City{Network: "24.24.24.0/24", Country: "US", Subdivision: "NY", SubdivisionName: "New York", City: "New York", Lat: 40.7128, Lon: -74.0060, AccuracyKM: 20, TimeZone: "America/New_York"}
	Sydney      = City{Network: "1.128.0.0/16", Country: "AU", Subdivision: "NSW", SubdivisionName: "New South Wales", City: "Sydney", Lat: -33.8688, Lon: 151.2093, AccuracyKM: 50, TimeZone: "Australia/Sydney"}
	Tokyo       = City{Network: "126.0.0.0/16", Country: "JP", Subdivision: "13", SubdivisionName: "Tokyo", City: "Tokyo", Lat: 35.6762, Lon: 139.6503, AccuracyKM: 50, TimeZone: "Asia/Tokyo"}
	SaoPaulo    = City{Network: "177.10.0.0/16", Country: "BR", Subdivision: "SP", SubdivisionName: "São Paulo", City: "São Paulo", Lat: -23.5505, Lon: -46.6333, AccuracyKM: 100, TimeZone: "America/Sao_Paulo"}
	Ashburn     = City{Network: "3.5.0.0/16", Country: "US", Subdivision: "VA", SubdivisionName: "Virginia", City: "Ashburn", Lat: 39.0438, Lon: -77.4874, AccuracyKM: 50, TimeZone: "America/New_York"}
	Amsterdam   = City{Network: "37.120.0.0/16", Country: "NL", Subdivision: "NH", SubdivisionName: "North Holland", City: "Amsterdam", Lat: 52.3676, Lon: 4.9041, AccuracyKM: 100, TimeZone: "Europe/Amsterdam"}
	Moscow      = City{Network: "45.155.205.0/24", Country: "RU", Subdivision: "MOW", SubdivisionName: "Moscow", City: "Moscow", Lat: 55.7558, Lon: 37.6173, AccuracyKM: 100, TimeZone: "Europe/Moscow"}
	Aquitaine   = City{Network: "90.0.0.0/16", Country: "FR", Subdivision: "NAQ", SubdivisionName: "Nouvelle-Aquitaine", Lat: 45.7087, Lon: 0.6269, AccuracyKM: 200, TimeZone: "Europe/Paris"} // region-level: no city
	SouthAfrica = City{Network: "41.0.0.0/16", Country: "ZA", Lat: -29.0, Lon: 24.0, AccuracyKM: 1000}                                                                                         // country-level: centroid
	TorExitsDE  = City{Network: "185.220.101.0/24", Country: "DE", NoCoordinates: true}                                                                                                        // country only, no location at all
	ParisDoc    = City{Network: "203.0.113.0/24", Country: "FR", Subdivision: "IDF", City: "Paris", Lat: 48.8566, Lon: 2.3522, AccuracyKM: 20}                                                 // documentation range

	Paris6    = City{Network: "2a01:cb00::/32", Country: "FR", Subdivision: "IDF", SubdivisionName: "Île-de-France", City: "Paris", Lat: 48.8566, Lon: 2.3522, AccuracyKM: 20, TimeZone: "Europe/Paris"}
	London6   = City{Network: "2a00:23c0::/32", Country: "GB", Subdivision: "ENG", SubdivisionName: "England", City: "London", Lat: 51.5074, Lon: -0.1278, AccuracyKM: 10, TimeZone: "Europe/London"}
	Tokyo6    = City{Network: "2400:4050::/32", Country: "JP", Subdivision: "13", SubdivisionName: "Tokyo", City: "Tokyo", Lat: 35.6762, Lon: 139.6503, AccuracyKM: 50, TimeZone: "Asia/Tokyo"}
	Sydney6   = City{Network: "2001:8000::/20", Country: "AU", Subdivision: "NSW", SubdivisionName: "New South Wales", City: "Sydney", Lat: -33.8688, Lon: 151.2093, AccuracyKM: 50, TimeZone: "Australia/Sydney"}
	Ashburn6  = City{Network: "2600:1f00::/24", Country: "US", Subdivision: "VA", SubdivisionName: "Virginia", City: "Ashburn", Lat: 39.0438, Lon: -77.4874, AccuracyKM: 50, TimeZone: "America/New_York"}
	ParisDoc6 = City{Network: "2001:db8::/32", Country: "FR", Subdivision: "IDF", City: "Paris", Lat: 48.8566, Lon: 2.3522, AccuracyKM: 20}
)

// Cities returns the default city table.
func Cities() []City {
	return []City{Paris, Lyon, Versailles, London, Berlin, NewYork, Sydney, Tokyo, SaoPaulo, Ashburn, Amsterdam, Moscow, Aquitaine, SouthAfrica, TorExitsDE, ParisDoc,
		Paris6, London6, Tokyo6, Sydney6, Ashburn6, ParisDoc6}
}

// ASNs returns the default ASN table. AS16509 (Amazon) and AS9009 (M247)
// are on riskgate's built-in hosting list; the others are access networks.
func ASNs() []ASN {
	return []ASN{
		{Paris.Network, 3215, "Orange S.A."}, {Lyon.Network, 3215, "Orange S.A."}, {Versailles.Network, 3215, "Orange S.A."}, {Aquitaine.Network, 3215, "Orange S.A."}, {Paris6.Network, 3215, "Orange S.A."},
		{London.Network, 2856, "British Telecommunications PLC"}, {London6.Network, 2856, "British Telecommunications PLC"},
		{Berlin.Network, 3320, "Deutsche Telekom AG"},
		{NewYork.Network, 7922, "Comcast Cable Communications, LLC"},
		{Sydney.Network, 1221, "Telstra Limited"}, {Sydney6.Network, 1221, "Telstra Limited"},
		{Tokyo.Network, 17676, "SoftBank Corp."}, {Tokyo6.Network, 4713, "NTT Communications Corporation"},
		{SaoPaulo.Network, 28573, "Claro NXT Telecomunicacoes Ltda"},
		{SouthAfrica.Network, 37457, "Telkom SA Ltd."},
		{Ashburn.Network, 16509, "Amazon.com, Inc."}, {Ashburn6.Network, 16509, "Amazon.com, Inc."},
		{Amsterdam.Network, 9009, "M247 Europe SRL"},
		{TorExitsDE.Network, 60729, "Stiftung Erneuerbare Freiheit"},
		{Moscow.Network, 206728, "Media Land LLC"},
		{ParisDoc.Network, 64496, "Documentation ASN"}, {ParisDoc6.Network, 64496, "Documentation ASN"},
	}
}

// AnonymousNets returns the default Anonymous-IP table.
func AnonymousNets() []Anonymous {
	return []Anonymous{
		{Network: Ashburn.Network, Hosting: true},
		{Network: Ashburn6.Network, Hosting: true},
		{Network: Amsterdam.Network, VPN: true, Hosting: true},
		{Network: TorExitsDE.Network, Tor: true},
		{Network: Moscow.Network, PublicProxy: true},
	}
}

// Addr returns an address inside c's network (its base address plus one),
// for tests that need "an address in Paris".
func (c City) Addr() netip.Addr {
	return netip.MustParsePrefix(c.Network).Masked().Addr().Next()
}

// Paths are the files Write creates.
type Paths struct {
	City, ASN, Anonymous string
	DBIPCityV4           string // flat schema, IPv4 networks of Cities
	DBIPCityV6           string // flat schema, IPv6 networks of Cities
}

// Write writes the default tables to dir: city.mmdb, asn.mmdb,
// anonymous.mmdb, dbip-city-ipv4.mmdb and dbip-city-ipv6.mmdb.
func Write(dir string) (Paths, error) {
	p := Paths{
		City: filepath.Join(dir, "city.mmdb"), ASN: filepath.Join(dir, "asn.mmdb"), Anonymous: filepath.Join(dir, "anonymous.mmdb"),
		DBIPCityV4: filepath.Join(dir, "dbip-city-ipv4.mmdb"), DBIPCityV6: filepath.Join(dir, "dbip-city-ipv6.mmdb"),
	}
	var v4, v6 []City
	for _, c := range Cities() {
		if netip.MustParsePrefix(c.Network).Addr().Is4() {
			v4 = append(v4, c)
		} else {
			v6 = append(v6, c)
		}
	}
	for _, step := range []func() error{
		func() error { return WriteCity(p.City, Cities()) },
		func() error { return WriteASN(p.ASN, ASNs()) },
		func() error { return WriteAnonymous(p.Anonymous, AnonymousNets()) },
		func() error { return WriteDBIPCity(p.DBIPCityV4, v4) },
		func() error { return WriteDBIPCity(p.DBIPCityV6, v6) },
	} {
		if err := step(); err != nil {
			return Paths{}, err
		}
	}
	return p, nil
}
