package geoip

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

func writeDefault(t testing.TB) geoipgen.Paths {
	t.Helper()
	p, err := geoipgen.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeRaw writes a database with any type and records, for files that
// geoipgen, which only writes good ones, cannot make.
func writeRaw(t *testing.T, path, dbType string, recs map[string]mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, Description: map[string]string{"en": "test"}, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, m := range recs {
		if err := tree.Insert(mustNet(cidr), m); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenBadFiles: every kind of wrong file is refused at open with an
// error naming the file and what is wrong, never a panic.
func TestOpenBadFiles(t *testing.T) {
	p := writeDefault(t)
	dir := t.TempDir()
	good, err := os.ReadFile(p.City)
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// Damage the data section (after the search tree, before the
	// metadata) so that only a full verification can notice.
	corrupt := append([]byte(nil), good...)
	meta := strings.LastIndex(string(corrupt), "\xAB\xCD\xEFMaxMind.com")
	for i := meta - 400; i < meta-40; i++ {
		corrupt[i] = 0xff
	}
	domain := filepath.Join(dir, "domain.mmdb")
	writeRaw(t, domain, "GeoIP2-Domain", map[string]mmdbtype.Map{"81.2.69.0/24": {"domain": mmdbtype.String("example.com")}})
	foreign := filepath.Join(dir, "foreign.mmdb")
	writeRaw(t, foreign, "Acme-Widgets", map[string]mmdbtype.Map{"81.2.69.0/24": {"widget": mmdbtype.Uint32(7)}})
	badSchema := filepath.Join(dir, "badschema.mmdb")
	writeRaw(t, badSchema, "GeoIP2-City", map[string]mmdbtype.Map{"81.2.69.0/24": {"country": mmdbtype.String("FR")}})

	tests := []struct {
		name string
		path string
		role Role
		want string
	}{
		{"missing", filepath.Join(dir, "nope.mmdb"), RoleCity, "no such file"},
		{"directory", dir, RoleCity, "is a directory"},
		{"empty", file("empty.mmdb", nil), RoleCity, "file is empty"},
		{"garbage", file("garbage.mmdb", []byte(strings.Repeat("not a database\n", 100))), RoleCity, "not a MaxMind DB"},
		{"truncated to half", file("half.mmdb", good[:len(good)/2]), RoleCity, "not a MaxMind DB"},
		{"truncated metadata", file("cut.mmdb", good[:len(good)-20]), RoleCity, "geoip: open city database"},
		{"corrupt data section", file("corrupt.mmdb", corrupt), RoleCity, "corrupt database"},
		{"ASN file as city", p.ASN, RoleCity, `database type "GeoLite2-ASN" is an ASN database; want a city database: GeoIP2/GeoLite2 City`},
		{"city file as ASN", p.City, RoleASN, `database type "GeoIP2-City" is a city database; want an ASN database`},
		{"city file as anonymous", p.City, RoleAnonymous, "want an anonymous-IP database: GeoIP2-Anonymous-IP"},
		{"anonymous file as city", p.Anonymous, RoleCity, `database type "GeoIP2-Anonymous-IP" is an anonymous-IP database; want a city database`},
		{"DB-IP flat city as ASN", p.DBIPCityV4, RoleASN, `database type "city ipv4" is not a GeoIP2 type, and its records are laid out as a city database's (country_code); want an ASN database`},
		{"domain database", domain, RoleCity, `database type "GeoIP2-Domain" carries no location, AS or anonymity data; want a city database`},
		{"foreign database", foreign, RoleCity, `database type "Acme-Widgets" is not a type riskgate knows (record keys: widget); want a city database`},
		{"records not matching the schema", badSchema, RoleCity, "records do not match"},
		{"ASN CSV as city", file("asn-ipv4.csv", []byte("81.2.69.0,81.2.69.255,3215,\"Orange S.A.\"\n")), RoleCity,
			"it is an ASN CSV file (ip-location-db's); want a city database: GeoIP2/GeoLite2 City or Country"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := openDatabase(tt.path, tt.role, "")
			if err == nil {
				d.release()
				t.Fatalf("opened %s as %s", tt.path, tt.role)
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Count(msg, tt.path) != 1 || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want the path, once, and %q", msg, tt.want)
			}
		})
	}
}

// TestWrongTypeNamesBoth: a database refused for a role names the type
// the file has and what the role wants, for every slot, and calls a file
// of a type riskgate does not know by its type, never "an ASN database"
// (a "Foo-Bar" file whose records carry an AS number was reported as
// one, as if riskgate knew the type).
func TestWrongTypeNamesBoth(t *testing.T) {
	dir := t.TempDir()
	city := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("FR")},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(48.8566), "longitude": mmdbtype.Float64(2.3522)}}
	asn := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(3215)}
	anon := mmdbtype.Map{"is_anonymous_vpn": mmdbtype.Bool(true)}
	flat := mmdbtype.Map{"country_code": mmdbtype.String("FR")}
	wants := map[Role]string{
		RoleCity:      "want a city database: GeoIP2/GeoLite2 City or Country",
		RoleASN:       "want an ASN database: GeoLite2-ASN, GeoIP2-ISP",
		RoleAnonymous: "want an anonymous-IP database: GeoIP2-Anonymous-IP or GeoIP-Anonymous-Plus",
	}
	const none Role = 255 // serves no role
	tests := []struct {
		typ    string
		rec    mmdbtype.Map
		serves Role // the role it opens as; the others are refused
		is     string
	}{
		{"GeoLite2-Country", city, RoleCity, `database type "GeoLite2-Country" is a country database`},
		{"GeoIP2-ISP", asn, RoleASN, `database type "GeoIP2-ISP" is an ISP database`},
		{"GeoLite2-ASN", asn, RoleASN, `database type "GeoLite2-ASN" is an ASN database`},
		{"GeoIP-Anonymous-Plus", anon, RoleAnonymous, `database type "GeoIP-Anonymous-Plus" is an anonymous-IP database`},
		{"Foo-Bar", asn, RoleASN, `database type "Foo-Bar" is not a GeoIP2 type, and its records are laid out as an ASN database's (autonomous_system_number)`},
		{"Foo-Bar", flat, RoleCity, `database type "Foo-Bar" is not a GeoIP2 type, and its records are laid out as a city database's (country_code)`},
		{"Foo-Bar", city, none, `database type "Foo-Bar" is not a type geoip2 reads, though its records are GeoIP2-style (country, location)`},
		{"Foo-Bar", anon, none, `database type "Foo-Bar" is not a type riskgate knows (record keys: is_anonymous_vpn)`},
		{"Foo-Bar", mmdbtype.Map{}, none, `database type "Foo-Bar" is not a type riskgate knows, and its first record is empty`},
		{"GeoIP2-Connection-Type", mmdbtype.Map{"connection_type": mmdbtype.String("Cable/DSL")}, none, `database type "GeoIP2-Connection-Type" carries no location, AS or anonymity data`},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, fmt.Sprintf("%d.mmdb", i))
		writeRaw(t, path, tt.typ, map[string]mmdbtype.Map{"81.2.69.0/24": tt.rec})
		for _, role := range []Role{RoleCity, RoleASN, RoleAnonymous} {
			t.Run(fmt.Sprintf("%d %s as %s", i, tt.typ, role), func(t *testing.T) {
				d, err := openDatabase(path, role, "")
				if role == tt.serves {
					if err != nil {
						t.Fatal(err)
					}
					d.release()
					return
				}
				if err == nil {
					d.release()
					t.Fatalf("opened as %s", role)
				}
				msg := err.Error()
				if !strings.Contains(msg, tt.is+"; "+wants[role]) || strings.Count(msg, "want") != 1 {
					t.Errorf("error %q:\nwant %q", msg, tt.is+"; "+wants[role])
				}
				if _, known := geoip2Types[tt.typ]; !known && strings.Contains(msg, "is an ") {
					t.Errorf("error %q calls a file of an unknown type a kind of database", msg)
				}
			})
		}
	}
}

// TestOpenTruncatedEverywhere cuts a good file at many lengths: each is
// refused or, if the cut only removed padding, reads correctly. Never a
// panic, never a wrong answer.
func TestOpenTruncatedEverywhere(t *testing.T) {
	p := writeDefault(t)
	good, err := os.ReadFile(p.City)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.mmdb")
	paris := geoipgen.Paris.Addr()
	for n := 1; n < len(good); n += 37 {
		if err := os.WriteFile(path, good[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := openDatabase(path, RoleCity, "")
		if err != nil {
			continue
		}
		var r Result
		found, lerr := d.lookup(paris, &r, DefaultAccuracyKM)
		d.release()
		if lerr != nil || !found || r.Location.City != "Paris" {
			t.Fatalf("cut at %d of %d opened but answers %+v, %v", n, len(good), r, lerr)
		}
	}
}

func TestClassify(t *testing.T) {
	p := writeDefault(t)
	for _, tt := range []struct {
		path   string
		role   Role
		schema schema
	}{
		{p.City, RoleCity, schemaGeoIP2City},
		{p.ASN, RoleASN, schemaGeoIP2ASN},
		{p.Anonymous, RoleAnonymous, schemaGeoIP2Anon},
		{p.DBIPCityV4, RoleCity, schemaFlatCity},
		{p.DBIPCityV6, RoleCity, schemaFlatCity},
	} {
		d, err := openDatabase(tt.path, tt.role, "")
		if err != nil {
			t.Fatal(err)
		}
		if d.schema != tt.schema {
			t.Errorf("%s: schema %d, want %d", tt.path, d.schema, tt.schema)
		}
		d.release()
	}
}

// TestFlatASNAndLegacyCoordinates reads ip-location-db's ASN files ("asn
// ipv4", GeoLite2-ASN keys under a type geoip2 refuses) and a flat city
// file whose coordinates are strings, as files built with mmdbmeld had.
func TestFlatASNAndLegacyCoordinates(t *testing.T) {
	dir := t.TempDir()
	asn := filepath.Join(dir, "asn-ipv4.mmdb")
	writeRaw(t, asn, "asn ipv4", map[string]mmdbtype.Map{"81.2.69.0/24": {
		"autonomous_system_number": mmdbtype.Uint32(3215), "autonomous_system_organization": mmdbtype.String("Orange S.A.")}})
	city := filepath.Join(dir, "legacy-city.mmdb")
	writeRaw(t, city, "DBIP-CITY ipv4", map[string]mmdbtype.Map{"81.2.69.0/24": {
		"country_code": mmdbtype.String("fr"), "city": mmdbtype.String("Paris"), "state1": mmdbtype.String("Île-de-France"),
		"latitude": mmdbtype.String("48.8566"), "longitude": mmdbtype.String("2.3522")}})
	e, err := New(Options{City: []string{city}, ASN: []string{asn}, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r, err := e.Lookup(netip.MustParseAddr("81.2.69.7"))
	if err != nil {
		t.Fatal(err)
	}
	l := r.Location
	if r.ASN != 3215 || r.ASOrg != "Orange S.A." || l.Country != "FR" || l.City != "Paris" || !l.HasCoordinates ||
		l.Lat != 48.8566 || l.Lon != 2.3522 || l.AccuracyKM != DefaultAccuracyKM || l.Subdivision != "Île-de-France" {
		t.Errorf("got %+v", r)
	}
}

func TestRoleStrings(t *testing.T) {
	if RoleCity.article() != "a city" || RoleASN.article() != "an ASN" || RoleAnonymous.article() != "an anonymous-IP" {
		t.Error(RoleCity.article(), RoleASN.article(), RoleAnonymous.article())
	}
}

// FuzzOpenBytes feeds damaged databases to the open path: each is refused
// with an error or opens and answers lookups without panicking.
func FuzzOpenBytes(f *testing.F) {
	dir := f.TempDir()
	p, err := geoipgen.Write(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range []string{p.City, p.ASN, p.Anonymous, p.DBIPCityV4} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(0))
	}
	addrs := []netip.Addr{geoipgen.Paris.Addr(), geoipgen.Tokyo6.Addr(), netip.MustParseAddr("9.9.9.9"), netip.MustParseAddr("::")}
	f.Fuzz(func(t *testing.T, data []byte, role uint8) {
		d, err := openBytes("fuzz.mmdb", Role(role%3), data, func() error { return nil })
		if err != nil {
			return
		}
		defer d.release()
		for _, a := range addrs {
			var r Result
			_, _ = d.lookup(a, &r, DefaultAccuracyKM)
		}
	})
}
