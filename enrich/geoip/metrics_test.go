package geoip

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// TestBuildTimestamps: riskgate_geoip_database_build_timestamp_seconds
// gives each database in use its metadata's build time, follows a
// replaced database, and keeps the one in use when a replacement is
// refused (the database that grows old is the one still answering);
// riskgate_geoip_last_reload_success is 0 for the refused file only.
func TestBuildTimestamps(t *testing.T) {
	dir := t.TempDir()
	city, asn := filepath.Join(dir, "GeoIP2-City.mmdb"), filepath.Join(dir, "GeoLite2-ASN.mmdb")
	built := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := geoipgen.WriteCityBuilt(city, built, []geoipgen.City{geoipgen.Paris}); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	if err := geoipgen.WriteASN(asn, geoipgen.ASNs()); err != nil {
		t.Fatal(err)
	}
	e := newEnricher(t, Options{City: []string{city, city}, ASN: []string{asn}})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())

	var asnBuilt time.Time
	for _, d := range e.Databases() {
		if d.Role == RoleASN {
			asnBuilt = d.Built
		}
	}
	if asnBuilt.Before(before) || asnBuilt.After(time.Now()) {
		t.Fatalf("the ASN database was written between %v and now, its metadata says %v", before, asnBuilt)
	}
	want := func(cityBuilt time.Time, citySuccess int) {
		t.Helper()
		exp := fmt.Sprintf(`
# HELP riskgate_geoip_database_build_timestamp_seconds When each GeoIP database in use was built, as its metadata says (build_epoch), by role (city, ASN, anonymous-IP) and file; none for a database that gives no build time.
# TYPE riskgate_geoip_database_build_timestamp_seconds gauge
riskgate_geoip_database_build_timestamp_seconds{path=%[1]q,role="ASN"} %[2]d
riskgate_geoip_database_build_timestamp_seconds{path=%[3]q,role="city"} %[4]d
# HELP riskgate_geoip_last_reload_success 1 while each GeoIP database file is in use as last read (at start, or its last reload succeeded), 0 while its last reload failed (the file deleted too) and none succeeded since: the database loaded before answers. By role and file.
# TYPE riskgate_geoip_last_reload_success gauge
riskgate_geoip_last_reload_success{path=%[1]q,role="ASN"} 1
riskgate_geoip_last_reload_success{path=%[3]q,role="city"} %[5]d
`, asn, asnBuilt.Unix(), city, cityBuilt.Unix(), citySuccess)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "riskgate_geoip_database_build_timestamp_seconds", "riskgate_geoip_last_reload_success"); err != nil {
			t.Error(err)
		}
	}
	want(built, 1)

	rebuilt := built.Add(40 * 24 * time.Hour)
	if err := geoipgen.WriteCityBuilt(city, rebuilt, []geoipgen.City{geoipgen.Paris}); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	want(rebuilt, 1)

	if err := os.WriteFile(city, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err == nil {
		t.Fatal("a garbage city database reloaded")
	}
	want(rebuilt, 0)
}
