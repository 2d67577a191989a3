package node

import (
	"context"
	"log/slog"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/enrich/iplist"
)

// openEnrichers opens the GeoIP databases and IP lists, in the order the
// engine must run them (GeoIP first: the lists read the ASN it finds),
// watching their files for replacement until the node closes.
func (n *Node) openEnrichers(g GeoIPConfig) ([]engine.Enricher, error) {
	var out []engine.Enricher
	cache := g.CacheSize
	if cache == 0 {
		cache = -1 // the flag's 0 means off; the package's 0 means default
	}
	if len(g.City)+len(g.ASN)+len(g.Anonymous) > 0 {
		geo, err := geoip.New(geoip.Options{
			City: g.City, ASN: g.ASN, Anonymous: g.Anonymous, CacheSize: cache,
			Watch: true, Poll: g.Poll, Logger: n.log,
		})
		if err != nil {
			return nil, err
		}
		n.onCloseCtx("geoip", func(ctx context.Context) error {
			return within(ctx, "geoip", func() error { geo.Close(); return nil })
		})
		n.collect(geo.Collector())
		n.dataFiles = append(n.dataFiles, dataFiles{"geoip", geo.Reload})
		out = append(out, geo)
	}
	// The lists enricher also marks hosting ASNs from the built-in list,
	// which needs an ASN: from an ASN database, or an enricher added later.
	if len(g.IPLists) > 0 || g.TorExits != "" || g.HostingASNs != "" || len(g.ASN) > 0 {
		lists, err := iplist.New(iplist.Options{
			Lists: g.IPLists, TorExits: g.TorExits, HostingASNs: g.HostingASNs, NoBuiltinHostingASNs: g.NoBuiltinHosting,
			Watch: true, Poll: g.Poll, Logger: n.log,
		})
		if err != nil {
			return nil, err
		}
		n.onCloseCtx("iplist", func(ctx context.Context) error {
			return within(ctx, "iplist", func() error { lists.Close(); return nil })
		})
		n.collect(lists.Collector())
		n.dataFiles = append(n.dataFiles, dataFiles{"iplist", lists.Reload})
		out = append(out, lists)
	}
	return out, nil
}

// Enrichers opens the enrichers a GeoIPConfig names, for the tools that run
// engines of their own (backtest, which shares them between its two
// engines); close releases them.
func Enrichers(g GeoIPConfig, log *slog.Logger) (enrichers []engine.Enricher, close func() error, err error) {
	n := &Node{log: log}
	if enrichers, err = n.openEnrichers(g); err != nil {
		_ = n.Close(context.Background())
		return nil, nil, err
	}
	return enrichers, func() error { return n.Close(context.Background()) }, nil
}
