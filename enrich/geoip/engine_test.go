package geoip_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
	"github.com/riskgate/riskgate/enrich/iplist"
	"github.com/riskgate/riskgate/internal/enginetest"
)

// These tests run the whole engine (memory store, default signals and
// rules) on generated databases: the location signals and the default
// location rules as a deployment with GeoIP sees them.

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

type harness struct {
	t *testing.T
	e *engine.Engine
}

func newHarness(t *testing.T, lists map[string]string) *harness {
	t.Helper()
	p, err := geoipgen.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	geo, err := geoip.New(geoip.Options{City: []string{p.City}, ASN: []string{p.ASN}, Anonymous: []string{p.Anonymous}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(geo.Close)
	il, err := iplist.New(iplist.Options{Lists: lists, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e := enginetest.New(t, engine.Options{Enrichers: []engine.Enricher{geo, il}, Now: func() time.Time { return t0 }})
	return &harness{t: t, e: e}
}

func login(at time.Time, ip string) engine.Attempt {
	return engine.Attempt{Time: at, UserID: "u-alice", Username: "alice@example.com", IP: ip, UserAgent: chrome,
		DeviceID: "laptop-1", Result: engine.ResultPasswordOK}
}

func (h *harness) score(a engine.Attempt) engine.Decision {
	h.t.Helper()
	d, err := h.e.Score(context.Background(), a)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// train gives alice five daily logins from ip; it returns the last time.
func (h *harness) train(ip string) time.Time {
	h.t.Helper()
	var at time.Time
	for i := range 5 {
		at = t0.Add(time.Duration(i) * 24 * time.Hour)
		if d := h.score(login(at, ip)); d.Action != engine.ActionAllow {
			h.t.Fatalf("training login %d: %s %v", i, d.Action, ids(d))
		}
	}
	return at
}

func ids(d engine.Decision) []string {
	var out []string
	for _, r := range d.Reasons {
		out = append(out, r.RuleID)
	}
	return out
}

func TestLocatedByDatabase(t *testing.T) {
	h := newHarness(t, nil)
	for _, ip := range []string{"81.2.69.160", "2a01:cb00::1"} {
		d := h.score(login(t0, ip))
		g := d.Signals.Geo
		if !g.Known || g.Source != "geoip" || g.Country != "FR" || g.City != "Paris" || g.Subdivision != "IDF" ||
			!g.HasCoordinates || g.AccuracyKM != 20 {
			t.Errorf("%s: geo %+v", ip, g)
		}
		if a := d.Signals.ASN; !a.Known || a.Number != 3215 || a.Org != "Orange S.A." || a.Hosting {
			t.Errorf("%s: asn %+v", ip, a)
		}
		if ipEnv := d.Signals.IP; !ipEnv.AnonymousKnown || ipEnv.Anonymous || ipEnv.Class != "public" {
			t.Errorf("%s: ip %+v", ip, ipEnv)
		}
	}
}

// TestDatabaseBeatsHint: the attempt's CDN hint is used only where no
// database answers; with neither, the location is unknown.
func TestDatabaseBeatsHint(t *testing.T) {
	h := newHarness(t, nil)
	lat, lon := 40.4168, -3.7038 // Madrid
	hint := &engine.GeoHint{Country: "ES", Lat: &lat, Lon: &lon}
	a := login(t0, "81.2.69.160")
	a.Geo = hint
	if g := h.score(a).Signals.Geo; g.Source != "geoip" || g.Country != "FR" {
		t.Errorf("database answer lost to the hint: %+v", g)
	}
	a = login(t0, "9.9.9.9") // in no database
	a.Geo = hint
	if g := h.score(a).Signals.Geo; g.Source != "hint" || g.Country != "ES" || g.AccuracyKM != 50 {
		t.Errorf("hint not used: %+v", g)
	}
	a.Geo = nil
	if g := h.score(a).Signals.Geo; g.Known || g.Source != "none" || g.HasCoordinates {
		t.Errorf("unknown address located: %+v", g)
	}
}

// TestNonPublicAddresses are explicit, never looked up.
func TestNonPublicAddresses(t *testing.T) {
	h := newHarness(t, nil)
	for ip, class := range map[string]string{"10.1.2.3": "private", "127.0.0.1": "loopback", "::1": "loopback",
		"203.0.113.5": "reserved", "2001:db8::5": "reserved", "100.64.1.1": "cgnat", "fe80::1": "link_local", "fd00::1": "private"} {
		d := h.score(login(t0, ip))
		// 203.0.113.0/24 and 2001:db8::/32 are in the test database, but
		// the engine never asks for them.
		if d.Signals.IP.Class != class || d.Signals.Geo.Known || d.Signals.ASN.Known {
			t.Errorf("%s: class %q geo %+v asn %+v", ip, d.Signals.IP.Class, d.Signals.Geo, d.Signals.ASN)
		}
	}
}

func TestTravel(t *testing.T) {
	tests := []struct {
		name       string
		home, away string
		after      time.Duration
		impossible bool
		minKM      float64
	}{
		{"Paris to Sydney in 2 hours", "81.2.69.160", "1.128.0.1", 2 * time.Hour, true, 16900},
		{"Paris to Lyon in 2 hours (train)", "81.2.69.160", "81.2.70.1", 2 * time.Hour, false, 390},
		{"Paris to London in 3 hours (train)", "81.2.69.160", "2.125.160.216", 3 * time.Hour, false, 340},
		{"Paris to New York in 20 hours (flight)", "81.2.69.160", "24.24.24.24", 20 * time.Hour, false, 5800},
		// 17 km in one minute is 1020 km/h, but the two 20 km circles
		// overlap: the user may not have moved at all.
		{"Paris to Versailles in 1 minute", "81.2.69.160", "81.2.71.9", time.Minute, false, 15},
		{"IPv6: Paris to Tokyo in 1 hour", "2a01:cb00::1", "2400:4050::1", time.Hour, true, 9700},
		{"IPv6 to IPv4: Paris to Sydney in 3 hours", "2a01:cb00::1", "1.128.0.1", 3 * time.Hour, true, 16900},
		// Country-only fix: no coordinates, so no speed and no guess.
		{"Paris to South Africa (country only) in 1 hour", "81.2.69.160", "41.0.0.1", time.Hour, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			last := h.train(tt.home)
			d := h.score(login(last.Add(tt.after), tt.away))
			g := d.Signals.Geo
			if g.ImpossibleTravel != tt.impossible || slices.Contains(ids(d), "impossible-travel") != tt.impossible {
				t.Errorf("impossible %v, want %v: geo %+v, reasons %v", g.ImpossibleTravel, tt.impossible, g, ids(d))
			}
			if tt.minKM > 0 && (!g.VelocityKnown || g.DistanceKM < tt.minKM) {
				t.Errorf("distance %.0f km, want at least %.0f: %+v", g.DistanceKM, tt.minKM, g)
			}
			if tt.minKM == 0 && (g.VelocityKnown || g.HasCoordinates || !g.Known || !g.NewCountry) {
				t.Errorf("country-only fix: %+v", g)
			}
			if tt.impossible && (d.Action != engine.ActionStepUp || !d.Alert) {
				t.Errorf("impossible travel answered %s (alert %v)", d.Action, d.Alert)
			}
		})
	}
}

// TestAnonymityRules: the default rules on Anonymous-IP data and hosting
// ASNs.
func TestAnonymityRules(t *testing.T) {
	dir := t.TempDir()
	allow := filepath.Join(dir, "allow.txt")
	if err := os.WriteFile(allow, []byte("# corporate VPN egress, in AWS\n3.5.140.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deny := filepath.Join(dir, "deny.txt")
	if err := os.WriteFile(deny, []byte("45.155.205.0/24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const paris, newYork = "81.2.69.160", "24.24.24.24"
	tests := []struct {
		name     string
		home, ip string
		device   string
		action   engine.Action
		include  []string
		exclude  []string
	}{
		// A new network counts for anonymous-network-new only from a
		// device the user has not used: the user's own laptop on a VPN or
		// a cloud desktop is scored by new-network alone.
		{"hosting network, known device", newYork, "3.5.1.1", "laptop-1", engine.ActionAllow, []string{"new-network"}, []string{"hosting-new-device", "anonymous-network-new"}},
		{"hosting network, new device", newYork, "3.5.1.1", "vps-1", engine.ActionStepUp, []string{"hosting-new-device", "anonymous-network-new", "new-device"}, nil},
		{"hosting network over IPv6, new device", newYork, "2600:1f00::5", "vps-1", engine.ActionStepUp, []string{"hosting-new-device"}, nil},
		{"allow-listed hosting, new device", newYork, "3.5.140.7", "laptop-2", engine.ActionAllow, []string{"new-device"}, []string{"hosting-new-device", "anonymous-network-new"}},
		{"VPN in a hosting network abroad, new device", paris, "37.120.1.1", "phone-9", engine.ActionStepUp, []string{"hosting-new-device", "anonymous-network-new", "new-device-new-country"}, nil},
		// Novelty and Tor together: a step-up, not a denial.
		{"Tor exit abroad, new device", paris, "185.220.101.3", "tor-box", engine.ActionStepUp, []string{"tor-exit", "new-device-new-country"}, []string{"hosting-new-device", "anonymous-network-new"}},
		{"deny-listed proxy", paris, "45.155.205.233", "laptop-1", engine.ActionDeny, []string{"ip-deny-list"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, map[string]string{"allow": allow, "deny": deny})
			last := h.train(tt.home)
			a := login(last.Add(24*time.Hour), tt.ip)
			a.DeviceID = tt.device
			d := h.score(a)
			got := ids(d)
			if d.Action != tt.action {
				t.Errorf("action %s, want %s (score %d, reasons %v)", d.Action, tt.action, d.Score, got)
			}
			for _, id := range tt.include {
				if !slices.Contains(got, id) {
					t.Errorf("reasons %v lack %s", got, id)
				}
			}
			for _, id := range tt.exclude {
				if slices.Contains(got, id) {
					t.Errorf("reasons %v include %s", got, id)
				}
			}
		})
	}
}

// TestReplacedDatabaseMovesTheUser: after a reload, the cache gives the
// new answer, not the one cached from the old file.
func TestReplacedDatabaseMovesTheUser(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "city.mmdb")
	if err := geoipgen.WriteCity(path, []geoipgen.City{geoipgen.Paris}); err != nil {
		t.Fatal(err)
	}
	geo, err := geoip.New(geoip.Options{City: []string{path}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	addr := netip.MustParseAddr("81.2.69.160")
	if r, _ := geo.Lookup(addr); r.Location.City != "Paris" {
		t.Fatal(r)
	}
	moved := geoipgen.Lyon
	moved.Network = geoipgen.Paris.Network
	if err := geoipgen.WriteCity(path, []geoipgen.City{moved}); err != nil {
		t.Fatal(err)
	}
	if err := geo.Reload(); err != nil {
		t.Fatal(err)
	}
	if r, _ := geo.Lookup(addr); r.Location.City != "Lyon" {
		t.Errorf("stale cache after reload: %+v", r.Location)
	}
}
