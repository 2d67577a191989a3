package benchmarks

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
	"github.com/riskgate/riskgate/enrich/iplist"
	"github.com/riskgate/riskgate/internal/enginetest"
)

// geoPopulation is the benchmark population with GeoIP enrichment on: City,
// ASN and Anonymous-IP databases covering its addresses (81.0.0.0/18,
// one /24 per city of the population's table), a corporate list and a Tor
// list, the way a deployment runs.
func geoPopulation(tb testing.TB) *population {
	tb.Helper()
	enrichers := geoEnrichers(tb)
	return newPopulation(tb, func(o *engine.Options) { o.Enrichers = enrichers })
}

// geoEnrichers writes the databases and lists and opens them.
func geoEnrichers(tb testing.TB) []engine.Enricher {
	tb.Helper()
	dir := tb.TempDir()
	var cityNets []geoipgen.City
	for i := range 64 {
		c := cities[i%len(cities)]
		cityNets = append(cityNets, geoipgen.City{Network: fmt.Sprintf("81.0.%d.0/24", i), Country: c.country, City: "City " + c.country,
			Subdivision: "S1", Lat: c.lat, Lon: c.lon, AccuracyKM: 20, TimeZone: "UTC"})
	}
	paths := geoipgen.Paths{City: filepath.Join(dir, "city.mmdb"), ASN: filepath.Join(dir, "asn.mmdb"), Anonymous: filepath.Join(dir, "anonymous.mmdb")}
	for _, err := range []error{
		geoipgen.WriteCity(paths.City, append(cityNets, geoipgen.Cities()...)),
		geoipgen.WriteASN(paths.ASN, append([]geoipgen.ASN{{Network: "81.0.0.0/16", Number: 3215, Org: "Orange S.A."}}, geoipgen.ASNs()...)),
		geoipgen.WriteAnonymous(paths.Anonymous, geoipgen.AnonymousNets()),
		os.WriteFile(filepath.Join(dir, "corp.txt"), []byte("10.0.0.0/8\n192.0.2.0/24\n"), 0o644),
		os.WriteFile(filepath.Join(dir, "tor.txt"), []byte("185.220.101.3\n185.220.101.4\n"), 0o644),
	} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	geo, err := geoip.New(geoip.Options{City: []string{paths.City}, ASN: []string{paths.ASN}, Anonymous: []string{paths.Anonymous}, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(geo.Close)
	lists, err := iplist.New(iplist.Options{Lists: map[string]string{"corp_vpn": filepath.Join(dir, "corp.txt")},
		TorExits: filepath.Join(dir, "tor.txt"), Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	return []engine.Enricher{geo, lists}
}

// BenchmarkScoreGeoIP is BenchmarkScore with GeoIP enrichment on: ordinary
// logins of known users, every address located by the databases (cache
// warm after the population's training logins).
func BenchmarkScoreGeoIP(b *testing.B) { scoreOrdinary(b, geoPopulation(b), nil) }

// TestScoreGeoIPAllocations: enrichment adds no allocation to an ordinary
// Score (a cached lookup allocates nothing). The comparison is with the
// same engine without enrichment, so it holds under -race too, where every
// count is higher.
func TestScoreGeoIPAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random; allocations are checked by the non-race run in .ci/run")
	}
	geo := geoEnrichers(t)
	allocs := func(enrichers []engine.Enricher) float64 {
		e := enginetest.New(t, engine.Options{Enrichers: enrichers})
		ctx := context.Background()
		start := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
		const users = 100
		attempt := func(u int, at time.Time) engine.Attempt {
			return engine.Attempt{Time: at, UserID: fmt.Sprintf("user-%d", u), Username: fmt.Sprintf("user%d@example.com", u),
				IP: fmt.Sprintf("81.0.%d.%d", u%64, u), UserAgent: uaChrome, DeviceID: fmt.Sprintf("dev-%d", u), Result: engine.ResultPasswordOK}
		}
		for d := range 5 {
			for u := range users {
				if _, err := e.Score(ctx, attempt(u, start.Add(time.Duration(d)*24*time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
		}
		i := 0
		at := start.Add(10 * 24 * time.Hour)
		return testing.AllocsPerRun(300, func() {
			d, err := e.Score(ctx, attempt(i%users, at.Add(time.Duration(i)*time.Second)))
			if err != nil || d.Action != engine.ActionAllow || (enrichers != nil && (d.Signals.Geo.Source != "geoip" || !d.Signals.ASN.Known)) {
				t.Fatalf("ordinary login: %v %s %v %+v", err, d.Action, d.Reasons, d.Signals.Geo)
			}
			i++
		})
	}
	without, with := allocs(nil), allocs(geo)
	t.Logf("allocations per ordinary Score: %.1f without enrichment, %.1f with", without, with)
	if with > without {
		t.Errorf("Score allocates %.1f times with GeoIP enrichment, %.1f without", with, without)
	}
}
