package geoip

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/riskgate/riskgate/internal/filesnap"
)

// Role is what a database is opened for.
type Role uint8

// Roles.
const (
	RoleCity Role = iota
	RoleASN
	RoleAnonymous
)

func (r Role) String() string {
	switch r {
	case RoleCity:
		return "city"
	case RoleASN:
		return "ASN"
	case RoleAnonymous:
		return "anonymous-IP"
	}
	return "unknown"
}

// article is the role with its indefinite article, for messages.
func (r Role) article() string {
	if r == RoleCity {
		return "a city"
	}
	return "an " + r.String()
}

// want is what a file must be to serve the role, for the errors that
// refuse one: the kinds riskgate reads, by name, so that an operator
// given "not a city database" also learns which file to fetch.
func (r Role) want() string {
	switch r {
	case RoleCity:
		return "want a city database: GeoIP2/GeoLite2 City or Country, GeoIP2 Enterprise, DB-IP's GeoIP2-compatible files, or ip-location-db's city files"
	case RoleASN:
		return "want an ASN database: GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN Lite, or ip-location-db's ASN files (.mmdb or .csv)"
	case RoleAnonymous:
		return "want an anonymous-IP database: GeoIP2-Anonymous-IP or GeoIP-Anonymous-Plus"
	}
	return "want " + r.article() + " database"
}

// schema is how a database's records are laid out, and so how they are read.
type schema uint8

const (
	schemaGeoIP2City     schema = iota + 1 // GeoIP2/GeoLite2 City or Country, DB-IP's GeoIP2-compatible files
	schemaGeoIP2ASN                        // GeoLite2-ASN, GeoIP2-ISP
	schemaGeoIP2Anon                       // GeoIP2-Anonymous-IP
	schemaGeoIP2AnonPlus                   // GeoIP-Anonymous-Plus
	schemaFlatCity                         // ip-location-db: country_code, city, latitude, longitude at the top level
	schemaFlatASN                          // ip-location-db: autonomous_system_number at the top level
	schemaCSVASN                           // ip-location-db's ASN CSV (asncsv.go)
)

// geoip2Types maps the database types geoip2-golang reads to their schema.
// geoip2.Open accepts more (Domain, Connection-Type), which carry nothing
// riskgate uses; they fall through to the "not a ... database" error.
var geoip2Types = map[string]schema{
	"GeoLite2-City": schemaGeoIP2City, "GeoIP2-City": schemaGeoIP2City, "GeoIP2-Precision-City": schemaGeoIP2City,
	"GeoIP2-City-Africa": schemaGeoIP2City, "GeoIP2-City-Asia-Pacific": schemaGeoIP2City, "GeoIP2-City-Europe": schemaGeoIP2City,
	"GeoIP2-City-North-America": schemaGeoIP2City, "GeoIP2-City-South-America": schemaGeoIP2City,
	"GeoIP-City-Redacted-US": schemaGeoIP2City, "GeoLite2-Country": schemaGeoIP2City, "GeoIP2-Country": schemaGeoIP2City,
	"GeoIP2-Enterprise": schemaGeoIP2City, "GeoIP-Enterprise-Redacted-US": schemaGeoIP2City,
	"DBIP-City-Lite": schemaGeoIP2City, "DBIP-Country-Lite": schemaGeoIP2City, "DBIP-Country": schemaGeoIP2City,
	"DBIP-Location (compat=City)": schemaGeoIP2City, "DBIP-ISP (compat=Enterprise)": schemaGeoIP2City,
	"DBIP-Location-ISP (compat=Enterprise)": schemaGeoIP2City,

	"GeoLite2-ASN": schemaGeoIP2ASN, "DBIP-ASN-Lite (compat=GeoLite2-ASN)": schemaGeoIP2ASN,
	"GeoIP2-ISP": schemaGeoIP2ASN, "GeoIP2-Precision-ISP": schemaGeoIP2ASN,

	"GeoIP2-Anonymous-IP":  schemaGeoIP2Anon,
	"GeoIP-Anonymous-Plus": schemaGeoIP2AnonPlus,
}

func (s schema) role() (Role, bool) {
	switch s {
	case schemaGeoIP2City, schemaFlatCity:
		return RoleCity, true
	case schemaGeoIP2ASN, schemaFlatASN, schemaCSVASN:
		return RoleASN, true
	case schemaGeoIP2Anon, schemaGeoIP2AnonPlus:
		return RoleAnonymous, true
	}
	return 0, false
}

// database is one opened file. Readers hold a reference while they use it,
// so a reload can unmap the old file only when the last lookup is done.
type database struct {
	path     string
	role     Role
	schema   schema
	typ      string
	built    time.Time
	ipv4Only bool
	mm       *maxminddb.Reader
	g2       *geoip2.Reader
	csv      *asnTable   // an ASN CSV file instead of an MMDB
	file     os.FileInfo // the file as opened: Enricher.reloadChanged skips a version loaded
	unmap    func() error
	where    string // where the private snapshot lives, for logs
	refs     atomic.Int64
}

// openDatabase copies the file at path into a private snapshot (see
// internal/filesnap: a file rewritten or truncated in place later can
// neither change nor fault it), verifies and classifies it, and refuses it
// unless it can serve role. Errors say which file and what is wrong.
func openDatabase(path string, role Role, snapshotDir string) (_ *database, err error) {
	defer func() {
		if err != nil {
			// The file's own open error names it again: say it once.
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path == path {
				err = fmt.Errorf("geoip: %s %s database %s: %w", pe.Op, role, path, pe.Err)
			} else {
				err = fmt.Errorf("geoip: open %s database %s: %w", role, path, err)
			}
		}
	}()
	snap, err := filesnap.Open(path, filesnap.Options{Dir: snapshotDir, MaxSize: 1 << 34})
	if err != nil {
		return nil, err
	}
	if len(snap.Bytes()) == 0 {
		return nil, errors.New("file is empty")
	}
	if head := snap.Bytes()[:min(64, len(snap.Bytes()))]; looksLikeCSV(path, head) {
		// An ASN CSV is parsed into arrays of its own: the snapshot is
		// not needed once read.
		d, err := openASNCSV(path, role, snap.Bytes())
		_ = snap.Close()
		if d != nil {
			d.file = snap.Stat()
		}
		return d, err
	}
	d, err := openBytes(path, role, snap.Bytes(), snap.Close)
	if err != nil {
		_ = snap.Close()
		return nil, err
	}
	d.where, d.file = snap.Where(), snap.Stat()
	return d, nil
}

// openBytes is openDatabase once the file is in memory.
func openBytes(path string, role Role, data []byte, unmap func() error) (*database, error) {
	mm, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("not a MaxMind DB (.mmdb) file, or truncated: %w", err)
	}
	// Verify walks the whole search tree and data section: a file cut
	// short or damaged in the middle is refused here rather than answering
	// garbage (or nothing) for some addresses later. It also insists on a
	// description, which the spec requires but ip-location-db's builder
	// does not write; that alone is no reason to refuse the file.
	if len(mm.Metadata.Description) == 0 {
		mm.Metadata.Description = map[string]string{"en": "(none)"}
	}
	if err := mm.Verify(); err != nil {
		return nil, fmt.Errorf("corrupt database: %w", err)
	}
	d := &database{
		path: path, role: role, typ: mm.Metadata.DatabaseType, mm: mm, unmap: unmap,
		built: mm.Metadata.BuildTime(), ipv4Only: mm.Metadata.IPVersion == 4,
	}
	d.schema, err = classify(mm)
	if err != nil {
		return nil, fmt.Errorf("%w; %s", err, role.want())
	}
	if got, _ := d.schema.role(); got != role {
		return nil, fmt.Errorf("%s; %s", d.describe(), role.want())
	}
	if _, ok := geoip2Types[d.typ]; ok {
		if d.g2, err = geoip2.OpenBytes(data); err != nil {
			return nil, err
		}
	}
	if err := d.probe(); err != nil {
		return nil, err
	}
	d.refs.Store(1) // the holder's reference
	return d, nil
}

// describe says what the database is, for the error refusing it for
// another role. A type geoip2 reads is named as its kind; a file riskgate
// classified by the keys of its records is not said to be of a kind
// outright, since its type, which may be anything ("Foo-Bar" once read
// as "an ASN database"), says nothing of the kind: the message names the
// type and the keys that decided it.
func (d *database) describe() string {
	got, _ := d.schema.role()
	if _, ok := geoip2Types[d.typ]; ok {
		kind := got.article()
		switch {
		case strings.Contains(d.typ, "Country"):
			kind = "a country"
		case strings.Contains(d.typ, "ISP") && got == RoleASN:
			kind = "an ISP"
		}
		return fmt.Sprintf("database type %q is %s database", d.typ, kind)
	}
	key := "country_code"
	if d.schema == schemaFlatASN {
		key = "autonomous_system_number"
	}
	return fmt.Sprintf("database type %q is not a GeoIP2 type, and its records are laid out as %s database's (%s)", d.typ, got.article(), key)
}

// classify tells the schema from the metadata's database type; a type
// geoip2 does not know (the ip-location-db files say "city ipv4") is
// recognised by the keys of its first record. Its errors name the type;
// the caller adds what the role wants.
func classify(mm *maxminddb.Reader) (schema, error) {
	typ := mm.Metadata.DatabaseType
	if s, ok := geoip2Types[typ]; ok {
		return s, nil
	}
	if typ == "GeoIP2-Domain" || typ == "GeoIP2-Connection-Type" {
		return 0, fmt.Errorf("database type %q carries no location, AS or anonymity data", typ)
	}
	for res := range mm.Networks() {
		if !res.Found() {
			continue
		}
		var rec map[string]any
		if err := res.Decode(&rec); err != nil {
			return 0, fmt.Errorf("database type %q: first record: %w", typ, err)
		}
		switch {
		case rec["country_code"] != nil:
			return schemaFlatCity, nil
		case rec["autonomous_system_number"] != nil:
			return schemaFlatASN, nil
		case rec["country"] != nil || rec["location"] != nil:
			return 0, fmt.Errorf("database type %q is not a type geoip2 reads, though its records are GeoIP2-style (country, location)", typ)
		}
		if len(rec) == 0 {
			return 0, fmt.Errorf("database type %q is not a type riskgate knows, and its first record is empty", typ)
		}
		keys := slices.Sorted(maps.Keys(rec))
		return 0, fmt.Errorf("database type %q is not a type riskgate knows (record keys: %s)", typ, strings.Join(keys, ", "))
	}
	return 0, fmt.Errorf("database type %q holds no records", typ)
}

// probe decodes the first records through the lookup path, so that a file
// whose records do not fit the schema its type claims fails at start-up.
func (d *database) probe() error {
	n := 0
	for res := range d.mm.Networks() {
		if err := res.Err(); err != nil {
			return err
		}
		if !res.Found() {
			continue
		}
		var r Result
		if _, err := d.lookup(res.Prefix().Addr(), &r, 0); err != nil {
			return fmt.Errorf("records do not match the %q schema: %w", d.typ, err)
		}
		if n++; n == 8 {
			break
		}
	}
	return nil
}

// acquire takes a reference for a lookup; false means the database was
// closed by a reload in between and the caller must load the current one.
func (d *database) acquire() bool {
	for {
		n := d.refs.Load()
		if n <= 0 {
			return false
		}
		if d.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one unmaps the file.
func (d *database) release() {
	if d.refs.Add(-1) == 0 {
		if d.g2 != nil {
			_ = d.g2.Close()
		}
		if d.mm != nil {
			_ = d.mm.Close()
		}
		_ = d.unmap()
	}
}

// lookup adds what the database knows about addr to r. found is false
// when the database has no record for it. defaultAccuracy is the radius
// given to coordinates that come without one.
//
// A fault on the mapped data (which the private snapshot should make
// impossible) is returned as an error rather than crashing the process.
func (d *database) lookup(addr netip.Addr, r *Result, defaultAccuracy float64) (found bool, err error) {
	defer filesnap.Recover(&err, debug.SetPanicOnFault(true))
	if d.ipv4Only && !addr.Is4() {
		return false, nil
	}
	switch d.schema {
	case schemaGeoIP2City:
		c, err := d.g2.City(addr)
		if err != nil {
			return false, err
		}
		var sub string
		if len(c.Subdivisions) > 0 {
			sub = c.Subdivisions[0].ISOCode
		}
		acc := float64(c.Location.AccuracyRadius)
		return r.setLocation(c.Country.ISOCode, sub, c.City.Names.English, c.Location.Latitude, c.Location.Longitude, acc, defaultAccuracy), nil
	case schemaFlatCity:
		var c flatCity
		res := d.mm.Lookup(addr)
		if !res.Found() {
			return false, res.Err()
		}
		if err := res.Decode(&c); err != nil {
			return false, err
		}
		var lat, lon *float64
		if c.Latitude.ok && c.Longitude.ok {
			lat, lon = &c.Latitude.v, &c.Longitude.v
		}
		return r.setLocation(c.CountryCode, c.State1, c.City, lat, lon, 0, defaultAccuracy), nil
	case schemaGeoIP2ASN:
		a, err := d.g2.ASN(addr)
		if err != nil {
			return false, err
		}
		return r.setASN(a.AutonomousSystemNumber, a.AutonomousSystemOrganization), nil
	case schemaFlatASN:
		var a flatASN
		res := d.mm.Lookup(addr)
		if !res.Found() {
			return false, res.Err()
		}
		if err := res.Decode(&a); err != nil {
			return false, err
		}
		return r.setASN(a.Number, a.Org), nil
	case schemaCSVASN:
		n, org, ok := d.csv.lookup(addr)
		if !ok {
			return false, nil
		}
		return r.setASN(uint(n), org), nil
	case schemaGeoIP2Anon:
		a, err := d.g2.AnonymousIP(addr)
		if err != nil {
			return false, err
		}
		r.setAnonymous(a.IsAnonymousVPN, a.IsTorExitNode, a.IsPublicProxy, a.IsHostingProvider)
		return true, nil
	case schemaGeoIP2AnonPlus:
		a, err := d.g2.AnonymousPlus(addr)
		if err != nil {
			return false, err
		}
		r.setAnonymous(a.IsAnonymousVPN, a.IsTorExitNode, a.IsPublicProxy, a.IsHostingProvider)
		return true, nil
	}
	return false, fmt.Errorf("geoip: %s: unknown schema %d", d.path, d.schema)
}
