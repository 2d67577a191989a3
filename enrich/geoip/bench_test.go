package geoip

import (
	"net/netip"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// The enrichment benchmarks look addresses up in the three generated
// GeoIP2 databases (City, ASN, Anonymous-IP), whose records have the keys
// and languages of MaxMind's.
//
//   - Warm: the address is cached (the steady state of a user base).
//   - Miss: every address is new to a full cache: the databases are read
//     and the least recently used entry is evicted.
//   - NoCache: the databases alone.

func benchEnricher(b *testing.B, cacheSize int, city ...string) *Enricher {
	p := writeDefault(b)
	opts := Options{City: []string{p.City}, ASN: []string{p.ASN}, Anonymous: []string{p.Anonymous}, CacheSize: cacheSize}
	if len(city) > 0 {
		opts = Options{City: city, CacheSize: cacheSize}
	}
	return newEnricher(b, opts)
}

// addrs returns n distinct addresses (for n up to 262,144), alternately
// IPv4 (Sydney's /16, then Tokyo's) and IPv6 (Tokyo).
func addrs(n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	v4 := []netip.Prefix{netip.MustParsePrefix(geoipgen.Sydney.Network), netip.MustParsePrefix(geoipgen.Tokyo.Network)}
	a4 := v4[0].Addr()
	a6 := netip.MustParsePrefix(geoipgen.Tokyo6.Network).Addr()
	for i := range n {
		if i%2 == 0 {
			out = append(out, a4)
			if a4 = a4.Next(); !v4[0].Contains(a4) {
				v4 = append(v4[1:], v4[0])
				a4 = v4[0].Addr()
			}
		} else {
			out = append(out, a6)
			a6 = a6.Next()
		}
	}
	return out
}

func BenchmarkEnrichWarm(b *testing.B) {
	e := benchEnricher(b, DefaultCacheSize)
	as := addrs(64)
	var en engine.Enrichment
	for _, a := range as {
		_ = e.Enrich(a, &en)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		en = engine.Enrichment{}
		_ = e.Enrich(as[i%len(as)], &en)
		i++
	}
}

func BenchmarkEnrichWarmParallel(b *testing.B) {
	e := benchEnricher(b, DefaultCacheSize)
	as := addrs(1024)
	for _, a := range as {
		_, _ = e.Lookup(a)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var en engine.Enrichment
		i := 0
		for pb.Next() {
			en = engine.Enrichment{}
			_ = e.Enrich(as[i%len(as)], &en)
			i += 7
		}
	})
}

func BenchmarkEnrichMiss(b *testing.B) {
	e := benchEnricher(b, 1024)
	as := addrs(200_000) // far more than the cache holds: every lookup misses
	var en engine.Enrichment
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		en = engine.Enrichment{}
		_ = e.Enrich(as[i%len(as)], &en)
		i++
	}
	if st := e.Stats(); st.CacheHits > st.CacheMisses/100 {
		b.Fatalf("not cold: %+v", st)
	}
}

func BenchmarkEnrichNoCache(b *testing.B) {
	for _, tc := range []struct {
		name string
		city func(geoipgen.Paths) []string
	}{
		{"GeoIP2-City+ASN+Anonymous", nil},
		{"GeoIP2-City", func(p geoipgen.Paths) []string { return []string{p.City} }},
		{"DBIP-flat-city", func(p geoipgen.Paths) []string { return []string{p.DBIPCityV4, p.DBIPCityV6} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var e *Enricher
			if tc.city == nil {
				e = benchEnricher(b, -1)
			} else {
				e = benchEnricher(b, -1, tc.city(writeDefault(b))...)
			}
			as := addrs(64)
			var en engine.Enrichment
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				en = engine.Enrichment{}
				_ = e.Enrich(as[i%len(as)], &en)
				i++
			}
		})
	}
}
