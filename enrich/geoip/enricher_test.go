package geoip

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

var discard = slog.New(slog.DiscardHandler)

func mustNet(cidr string) *net.IPNet {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		panic(err)
	}
	return n
}

func newEnricher(t testing.TB, opts Options) *Enricher {
	t.Helper()
	opts.Logger = discard
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestLookup(t *testing.T) {
	p := writeDefault(t)
	e := newEnricher(t, Options{City: []string{p.City}, ASN: []string{p.ASN}, Anonymous: []string{p.Anonymous}})
	type want struct {
		country, sub, city string
		coords             bool
		lat, lon, acc      float64
		asn                uint32
		vpn, tor, proxy    bool
		hosting            bool
	}
	tests := []struct {
		ip   string
		want want
	}{
		{"81.2.69.160", want{"FR", "IDF", "Paris", true, 48.8566, 2.3522, 20, 3215, false, false, false, false}},
		{"::ffff:81.2.69.160", want{"FR", "IDF", "Paris", true, 48.8566, 2.3522, 20, 3215, false, false, false, false}},
		{"2a01:cb00:1234::1", want{"FR", "IDF", "Paris", true, 48.8566, 2.3522, 20, 3215, false, false, false, false}},
		{"2.125.160.216", want{"GB", "ENG", "London", true, 51.5074, -0.1278, 10, 2856, false, false, false, false}},
		{"2a00:23c0::42", want{"GB", "ENG", "London", true, 51.5074, -0.1278, 10, 2856, false, false, false, false}},
		{"1.128.9.9", want{"AU", "NSW", "Sydney", true, -33.8688, 151.2093, 50, 1221, false, false, false, false}},
		{"2001:8000::1", want{"AU", "NSW", "Sydney", true, -33.8688, 151.2093, 50, 1221, false, false, false, false}},
		{"3.5.140.2", want{"US", "VA", "Ashburn", true, 39.0438, -77.4874, 50, 16509, false, false, false, true}},
		{"2600:1f00::9", want{"US", "VA", "Ashburn", true, 39.0438, -77.4874, 50, 16509, false, false, false, true}},
		{"37.120.5.5", want{"NL", "NH", "Amsterdam", true, 52.3676, 4.9041, 100, 9009, true, false, false, true}},
		{"185.220.101.3", want{"DE", "", "", false, 0, 0, 0, 60729, false, true, false, false}},
		{"45.155.205.233", want{"RU", "MOW", "Moscow", true, 55.7558, 37.6173, 100, 206728, false, false, true, false}},
		// Region-level fix: coordinates kept with the region's radius.
		{"90.0.3.3", want{"FR", "NAQ", "", true, 45.7087, 0.6269, 200, 3215, false, false, false, false}},
		// Country-level fix: the centroid is dropped.
		{"41.0.0.1", want{"ZA", "", "", false, 0, 0, 0, 37457, false, false, false, false}},
		// Documentation range: the database answers (the engine never asks).
		{"203.0.113.5", want{"FR", "IDF", "Paris", true, 48.8566, 2.3522, 20, 64496, false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			r, err := e.Lookup(netip.MustParseAddr(tt.ip))
			if err != nil {
				t.Fatal(err)
			}
			l, w := r.Location, tt.want
			if !l.Known || l.Source != "geoip" || l.Country != w.country || l.Subdivision != w.sub || l.City != w.city ||
				l.HasCoordinates != w.coords || l.Lat != w.lat || l.Lon != w.lon || l.AccuracyKM != w.acc {
				t.Errorf("location %+v, want %+v", l, w)
			}
			if r.ASN != w.asn || !r.AnonymousKnown || r.VPN != w.vpn || r.Tor != w.tor || r.Proxy != w.proxy || r.Hosting != w.hosting {
				t.Errorf("network %+v, want %+v", r, w)
			}
		})
	}
}

// TestLookupUnknown: addresses in no database, and invalid ones, are
// unknown, not errors and not panics.
func TestLookupUnknown(t *testing.T) {
	p := writeDefault(t)
	e := newEnricher(t, Options{City: []string{p.City}, ASN: []string{p.ASN}})
	for _, a := range []netip.Addr{
		netip.MustParseAddr("9.9.9.9"), netip.MustParseAddr("2620:fe::fe"), netip.MustParseAddr("0.0.0.0"),
		netip.MustParseAddr("::"), netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("fe80::1%eth0"), {},
	} {
		r, err := e.Lookup(a)
		if err != nil || r != (Result{}) {
			t.Errorf("%v: %+v, %v", a, r, err)
		}
	}
}

// TestDBIPFlat reads the free DB-IP Lite files as published (IPv4 and IPv6
// in two files, flat schema, no accuracy radius) through the same Enricher.
func TestDBIPFlat(t *testing.T) {
	p := writeDefault(t)
	e := newEnricher(t, Options{City: []string{p.DBIPCityV4, p.DBIPCityV6}})
	for _, tt := range []struct {
		ip, country, city string
		lat, lon          float64
		coords            bool
	}{
		{"81.2.69.160", "FR", "Paris", 48.8566, 2.3522, true},
		{"2a01:cb00::1", "FR", "Paris", 48.8566, 2.3522, true},
		{"126.0.3.4", "JP", "Tokyo", 35.6762, 139.6503, true},
		{"2400:4050::1", "JP", "Tokyo", 35.6762, 139.6503, true},
		{"41.0.0.1", "ZA", "", 0, 0, false},
	} {
		r, err := e.Lookup(netip.MustParseAddr(tt.ip))
		l := r.Location
		if err != nil || !l.Known || l.Country != tt.country || l.City != tt.city || l.HasCoordinates != tt.coords || l.Lat != tt.lat || l.Lon != tt.lon {
			t.Errorf("%s: %+v %v", tt.ip, l, err)
		}
		if tt.coords && l.AccuracyKM != DefaultAccuracyKM {
			t.Errorf("%s: accuracy %v, want the default %v", tt.ip, l.AccuracyKM, DefaultAccuracyKM)
		}
	}
	if r, _ := e.Lookup(netip.MustParseAddr("9.9.9.9")); r.Location.Known {
		t.Errorf("unknown address located: %+v", r)
	}
}

// TestCityOrder: the first database with a record answers; the next is
// consulted only for the addresses the first lacks.
func TestCityOrder(t *testing.T) {
	dir := t.TempDir()
	first, second := dir+"/first.mmdb", dir+"/second.mmdb"
	if err := geoipgen.WriteCity(first, []geoipgen.City{geoipgen.Lyon}); err != nil {
		t.Fatal(err)
	}
	paris := geoipgen.Paris
	paris.Network = "81.2.0.0/16" // covers Lyon's /24 too
	if err := geoipgen.WriteCity(second, []geoipgen.City{paris}); err != nil {
		t.Fatal(err)
	}
	e := newEnricher(t, Options{City: []string{first, second}})
	if r, _ := e.Lookup(geoipgen.Lyon.Addr()); r.Location.City != "Lyon" {
		t.Errorf("first database should answer: %+v", r.Location)
	}
	if r, _ := e.Lookup(netip.MustParseAddr("81.2.1.1")); r.Location.City != "Paris" {
		t.Errorf("second database should answer: %+v", r.Location)
	}
}

// TestEnrichKeepsEarlierAnswers: Enrich only adds.
func TestEnrichKeepsEarlierAnswers(t *testing.T) {
	p := writeDefault(t)
	e := newEnricher(t, Options{ASN: []string{p.ASN}})
	en := engine.Enrichment{Location: engine.Location{Known: true, Source: "other", Country: "IT"}, Network: engine.Network{Tor: true}}
	if err := e.Enrich(geoipgen.Paris.Addr(), &en); err != nil {
		t.Fatal(err)
	}
	if en.Location.Country != "IT" || !en.Network.Tor || en.Network.ASN != 3215 {
		t.Errorf("%+v", en)
	}
}

func TestCache(t *testing.T) {
	p := writeDefault(t)
	e := newEnricher(t, Options{City: []string{p.City}, ASN: []string{p.ASN}, CacheSize: 64})
	paris := geoipgen.Paris.Addr()
	for range 3 {
		if r, _ := e.Lookup(paris); r.Location.City != "Paris" {
			t.Fatal(r)
		}
	}
	st := e.Stats()
	if st.CacheMisses != 1 || st.CacheHits != 2 || st.CacheEntries != 1 {
		t.Errorf("stats %+v", st)
	}
	// Bounded: many addresses never grow it past its size.
	base := netip.MustParseAddr("81.2.69.0")
	a := base
	for range 1000 {
		a = a.Next()
		_, _ = e.Lookup(a)
	}
	if st := e.Stats(); st.CacheEntries > 64 {
		t.Errorf("cache holds %d entries, bound 64", st.CacheEntries)
	}
	// A hit does not allocate.
	var en engine.Enrichment
	_ = e.Enrich(paris, &en)
	if n := testing.AllocsPerRun(1000, func() { en = engine.Enrichment{}; _ = e.Enrich(paris, &en) }); n != 0 {
		t.Errorf("cached Enrich allocates %.1f times", n)
	}
	// Disabled cache: every lookup is a miss, and still right.
	off := newEnricher(t, Options{City: []string{p.City}, CacheSize: -1})
	for range 2 {
		if r, _ := off.Lookup(paris); r.Location.City != "Paris" {
			t.Fatal(r)
		}
	}
	if st := off.Stats(); st.CacheHits != 0 || st.CacheEntries != 0 {
		t.Errorf("disabled cache: %+v", st)
	}
}

func TestConcurrentLookups(t *testing.T) {
	p := writeDefault(t)
	e := newEnricher(t, Options{City: []string{p.City}, ASN: []string{p.ASN}, Anonymous: []string{p.Anonymous}, CacheSize: 128})
	addrs := []netip.Addr{geoipgen.Paris.Addr(), geoipgen.London6.Addr(), geoipgen.Tokyo.Addr(), netip.MustParseAddr("9.9.9.9")}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				a := addrs[(i+g)%len(addrs)]
				if i%7 == 0 {
					a = netip.AddrFrom4([4]byte{81, 2, 69, byte(i)})
				}
				var en engine.Enrichment
				if err := e.Enrich(a, &en); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if err := e.Reload(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if r, _ := e.Lookup(geoipgen.London6.Addr()); r.Location.City != "London" {
		t.Errorf("after concurrent reloads: %+v", r)
	}
}

func TestNoDatabase(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("no database accepted")
	}
}

func TestCloseThenLookup(t *testing.T) {
	p := writeDefault(t)
	e := newEnricher(t, Options{City: []string{p.City}})
	e.Close()
	e.Close()
	if r, err := e.Lookup(geoipgen.Paris.Addr()); err != nil || r.Location.Known {
		t.Errorf("after Close: %+v %v", r, err)
	}
}
