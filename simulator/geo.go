package simulator

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// GeoTables are the GeoIP databases that describe the simulated world, in
// the GeoIP2 schema (City, ASN, Anonymous-IP).
type GeoTables struct {
	City      []geoipgen.City
	ASN       []geoipgen.ASN
	Anonymous []geoipgen.Anonymous
}

// GeoPaths are the files GeoTables.Write creates.
type GeoPaths struct {
	City, ASN, Anonymous string
}

// Write writes city.mmdb, asn.mmdb and anonymous.mmdb into dir, creating
// it if needed.
func (g *GeoTables) Write(dir string) (GeoPaths, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return GeoPaths{}, fmt.Errorf("sim: geo dir: %w", err)
	}
	p := GeoPaths{City: filepath.Join(dir, "city.mmdb"), ASN: filepath.Join(dir, "asn.mmdb"), Anonymous: filepath.Join(dir, "anonymous.mmdb")}
	if err := geoipgen.WriteCity(p.City, g.City); err != nil {
		return GeoPaths{}, fmt.Errorf("sim: %w", err)
	}
	if err := geoipgen.WriteASN(p.ASN, g.ASN); err != nil {
		return GeoPaths{}, fmt.Errorf("sim: %w", err)
	}
	if err := geoipgen.WriteAnonymous(p.Anonymous, g.Anonymous); err != nil {
		return GeoPaths{}, fmt.Errorf("sim: %w", err)
	}
	return p, nil
}

// geoTables turns the plan into database records.
func (p *plan) geoTables() GeoTables {
	var g GeoTables
	for i := range p.blocks {
		b := &p.blocks[i]
		network := b.prefix.String()
		rec := geoipgen.City{Network: network, Country: b.country, AccuracyKM: b.radius}
		if b.city >= 0 {
			c := &p.w.cities[b.city]
			rec.City, rec.Subdivision, rec.Lat, rec.Lon = c.Name, c.Subdivision, c.Lat, c.Lon
		} else {
			// Country-level: the country's coordinates with a 1000 km
			// radius, as GeoIP2 gives them; the engine does not use them.
			co := p.w.byCountry[b.country]
			rec.Lat, rec.Lon = co.Lat, co.Lon
		}
		g.City = append(g.City, rec)
		g.ASN = append(g.ASN, geoipgen.ASN{Network: network, Number: b.isp.ASN, Org: b.isp.Org})
		if b.flagged {
			g.Anonymous = append(g.Anonymous, geoipgen.Anonymous{Network: network, VPN: b.vpn, Hosting: b.kind == kindHosting, Tor: b.tor})
		}
	}
	for _, a := range p.proxies {
		g.Anonymous = append(g.Anonymous, geoipgen.Anonymous{Network: netip.PrefixFrom(a, a.BitLen()).String(), ResidentialProxy: true})
	}
	return g
}
