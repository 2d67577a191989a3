package simulator

import (
	"bytes"
	"context"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zone test compares with the real rules on every machine

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/enrich/iplist"
)

// small is a stream that builds in a fraction of a second and still has
// every kind of traffic.
func small(seed uint64) Config {
	c := DefaultConfig()
	c.Seed, c.Users, c.Days, c.WarmupDays = seed, 150, 10, 7
	return c
}

func generate(t *testing.T, c Config) (*Output, []byte) {
	t.Helper()
	out, err := Generate(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := out.WriteJSONL(&b); err != nil {
		t.Fatal(err)
	}
	return out, b.Bytes()
}

func TestSameSeedSameBytes(t *testing.T) {
	a, ab := generate(t, small(7))
	b, bb := generate(t, small(7))
	if !bytes.Equal(ab, bb) {
		t.Fatal("two runs with the same seed differ")
	}
	if !reflect.DeepEqual(a.Geo, b.Geo) {
		t.Fatal("two runs with the same seed wrote different GeoIP tables")
	}
	_, cb := generate(t, small(8))
	if bytes.Equal(ab, cb) {
		t.Fatal("seeds 7 and 8 gave the same stream")
	}
}

func TestEveryLabelAndOutcomes(t *testing.T) {
	c := small(3)
	out, _ := generate(t, c)
	counts := out.Counts()
	for _, l := range Labels {
		if counts[l] == 0 {
			t.Errorf("no %s attempts", l)
		}
	}
	if counts[""] == 0 {
		t.Error("no warm-up traffic")
	}
	if counts["outcome"] == 0 {
		t.Error("no outcome lines")
	}
	labelOf := map[string]string{}
	var last time.Time
	for i, ln := range out.Lines {
		if ln.Outcome != nil {
			l, ok := labelOf[ln.Outcome.AttemptID]
			if !ok {
				t.Fatalf("line %d: outcome for %q, which no earlier line has", i, ln.Outcome.AttemptID)
			}
			if l == LabelLegit || ln.Outcome.Outcome.Outcome != engine.ConfirmedFraud {
				t.Errorf("line %d: %s outcome for a %s attempt", i, ln.Outcome.Outcome.Outcome, l)
			}
			continue
		}
		if !ln.Time.Before(c.Start.AddDate(0, 0, c.Days)) {
			t.Fatalf("line %d: %s is past the end", i, ln.Time)
		}
		if ln.Time.Before(last) {
			t.Fatalf("line %d: %s before the previous line's %s", i, ln.Time, last)
		}
		last = ln.Time
		labelOf[ln.AttemptID] = ln.Label
		if ln.StepUpPasses == nil {
			t.Fatalf("line %d: no step_up_passes", i)
		}
		switch {
		case ln.Label == "":
			if !ln.Time.Before(c.Start) || !*ln.StepUpPasses {
				t.Errorf("line %d: unlabelled traffic at %s, passes %v", i, ln.Time, *ln.StepUpPasses)
			}
		case ln.Label == LabelLegit:
			if ln.Time.Before(c.Start) || !*ln.StepUpPasses {
				t.Errorf("line %d: legit at %s, passes %v", i, ln.Time, *ln.StepUpPasses)
			}
		default:
			if ln.Time.Before(c.Start) || *ln.StepUpPasses {
				t.Errorf("line %d: %s at %s passes a step-up", i, ln.Label, ln.Time)
			}
		}
		if ln.Result == engine.ResultNoSuchUser && ln.UserID != "" {
			t.Errorf("line %d: no_such_user with a user_id", i)
		}
	}
}

// The attack mix draws from its own streams: turning attacks off leaves
// every legitimate login as it was.
func TestAttacksDoNotChangeLegitimateTraffic(t *testing.T) {
	with, _ := generate(t, small(5))
	c := small(5)
	c.Attacks = Attacks{}
	without, _ := generate(t, c)
	legit := func(o *Output) []engine.Attempt {
		var out []engine.Attempt
		for _, ln := range o.Lines {
			if ln.Outcome == nil && (ln.Label == "" || ln.Label == LabelLegit) {
				a := ln.Attempt
				a.AttemptID = ""
				out = append(out, a)
			}
		}
		return out
	}
	a, b := legit(with), legit(without)
	if len(a) != len(b) || !reflect.DeepEqual(a, b) {
		t.Fatalf("legitimate traffic changed with the attack mix (%d vs %d attempts)", len(a), len(b))
	}
	if n := without.Counts(); n[LabelCredentialStuffing]+n[LabelAccountTakeover] != 0 {
		t.Error("attacks generated with a zero mix")
	}
}

// Every address is public, and the generated databases locate it through
// riskgate's own GeoIP enrichment: a country for all, a city for all but
// the mobile networks' country-level blocks, an ASN for all. VPN exits and
// data centres are on the built-in hosting list.
func TestAddressesAreLocatedByTheEnrichment(t *testing.T) {
	out, _ := generate(t, small(11))
	paths, err := out.Geo.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := geoip.New(geoip.Options{City: []string{paths.City}, ASN: []string{paths.ASN}, Anonymous: []string{paths.Anonymous}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lists, err := iplist.New(iplist.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lists.Close()
	var v6, cityLevel, total, hosting, vpn int
	for i, ln := range out.Lines {
		if ln.Outcome != nil {
			continue
		}
		addr := netip.MustParseAddr(ln.IP)
		if c := engine.Classify(addr); c != engine.ClassPublic {
			t.Fatalf("line %d: %s is %s", i, addr, c)
		}
		var en engine.Enrichment
		if err := e.Enrich(addr, &en); err != nil {
			t.Fatal(err)
		}
		if err := lists.Enrich(addr, &en); err != nil {
			t.Fatal(err)
		}
		if !en.Location.Known || en.Network.ASN == 0 {
			t.Fatalf("line %d: %s not located: %+v", i, addr, en)
		}
		total++
		if addr.Is6() {
			v6++
		}
		if en.Location.City != "" {
			cityLevel++
		}
		if en.Network.HostingASN {
			hosting++
		}
		if en.Network.VPN {
			vpn++
		}
	}
	t.Logf("%d attempts: %d IPv6, %d located to a city, %d from hosting ASNs, %d from known VPN exits", total, v6, cityLevel, hosting, vpn)
	if v6 < total/20 || v6 > total/2 {
		t.Errorf("IPv6 share %d/%d: want some, not most", v6, total)
	}
	if cityLevel < total*6/10 || cityLevel == total {
		t.Errorf("city-level share %d/%d: want most, not all (mobile networks locate to the country)", cityLevel, total)
	}
	if hosting == 0 || vpn == 0 {
		t.Error("no traffic from hosting networks or VPN exits")
	}
}

// Legitimate travel never needs more than 1000 km/h: a train or a flight
// with the time to get to the station or airport and out.
func TestTravelIsPossible(t *testing.T) {
	c := small(13)
	c.Users = 600
	g, err := newGen(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, u := range g.users {
		r := newRand(c.Seed, 2*streamUsers+uint64(u.idx))
		for _, tr := range g.planTrips(u, r, g.warmupStart, g.end) {
			n++
			km := g.w.distanceKM(u.home, tr.dest)
			for _, leg := range []time.Duration{tr.arrive.Sub(tr.depart), tr.home.Sub(tr.back)} {
				if kmh := km / leg.Hours(); kmh > 700 {
					t.Errorf("%s to %s (%.0f km) in %s: %.0f km/h", g.w.cities[u.home].Name, g.w.cities[tr.dest].Name, km, leg, kmh)
				}
			}
			if !tr.back.After(tr.arrive) {
				t.Errorf("trip returns before it arrives: %+v", tr)
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d trips for %d users", n, c.Users)
	}
}

// The simulator's own daylight-saving table agrees with the tz database.
func TestZonesMatchTheTZDatabase(t *testing.T) {
	tz := map[string]string{
		"Paris": "Europe/Paris", "London": "Europe/London", "New York": "America/New_York", "Los Angeles": "America/Los_Angeles",
		"Sydney": "Australia/Sydney", "Tokyo": "Asia/Tokyo", "Mumbai": "Asia/Kolkata", "São Paulo": "America/Sao_Paulo",
		"Helsinki": "Europe/Helsinki", "Chicago": "America/Chicago", "Melbourne": "Australia/Melbourne",
	}
	w := newWorld()
	names := make([]string, 0, len(tz))
	for n := range tz {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		loc, err := time.LoadLocation(tz[name])
		if err != nil {
			t.Fatal(err)
		}
		z := w.cities[w.city(name)].zone
		for at := time.Date(2025, 12, 1, 0, 30, 0, 0, time.UTC); at.Before(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); at = at.Add(97 * time.Minute) {
			_, off := at.In(loc).Zone()
			if got := z.offset(at); got != time.Duration(off)*time.Second {
				t.Fatalf("%s at %s: offset %s, tz database %ds", name, at, got, off)
			}
		}
		wall := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
		if got := z.local(wall).In(loc); got.Hour() != 9 {
			t.Errorf("%s: 09:00 local is %s", name, got)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, f := range []func(*Config){
		func(c *Config) { c.Users = 0 },
		func(c *Config) { c.Days = 0 },
		func(c *Config) { c.WarmupDays = -1 },
		func(c *Config) { c.VPNUserShare = 1.5 },
		func(c *Config) { c.Start = time.Time{} },
		func(c *Config) { c.BusyOffice = c.Users + 1 },
		func(c *Config) { c.Attacks.SprayAccounts = c.Users + 1 },
		func(c *Config) { c.Attacks.Takeovers = c.Users + 1 },
		// Streams the engine could not replay: it refuses years before 2000.
		func(c *Config) { c.Start = time.Date(1999, 12, 1, 0, 0, 0, 0, time.UTC) },
		func(c *Config) { c.Start, c.WarmupDays = time.Date(2000, 1, 10, 0, 0, 0, 0, time.UTC), 21 },
		func(c *Config) { c.Start = time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC) },
	} {
		c := small(1)
		f(&c)
		if _, err := Generate(context.Background(), c); err == nil || !strings.HasPrefix(err.Error(), "sim: ") {
			t.Errorf("%+v: err %v", c, err)
		}
	}
}
