package engine

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestLearnGrowthCounts: the counts the statistical score reads (how often
// a login brought a new device, none, or a new subnet on its ASN; the
// newest browser version per family) grow as logins are learned.
func TestLearnGrowthCounts(t *testing.T) {
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	login := func(ip string, dev string, version uint16, asn uint32) Login {
		a := netip.MustParseAddr(ip)
		l := Login{Tenant: "t", User: profileKey("u"), Time: at, IP: a, Subnet: SubnetOf(a), Agent: "chrome/windows", AgentVersion: version, ASN: asn}
		if dev != "" {
			l.Device = profileKey(dev)
		}
		at = at.Add(time.Hour)
		return l
	}
	var p Profile
	for _, l := range []Login{
		login("81.2.69.1", "laptop", 144, 3215), // new device, new subnet on 3215
		login("81.2.69.2", "laptop", 145, 3215), // same subnet
		login("81.2.70.3", "laptop", 143, 3215), // new subnet on 3215; an older version does not lower it
		login("81.2.70.3", "", 145, 3215),       // no device
		login("10.9.0.1", "phone", 0, 20115),    // new device, new subnet on 20115; no version
		login("10.9.1.1", "phone", 145, 20115),  // new subnet on 20115
		login("10.9.1.1", "tablet", 145, 20115), // new device
	} {
		p.Learn(&l)
	}
	if p.NewDevices != 3 || p.NoDevice != 1 {
		t.Errorf("new devices %d, no device %d; want 3 and 1", p.NewDevices, p.NoDevice)
	}
	want := map[string]uint32{"3215": 2, "20115": 2}
	if len(p.ASNNetworks) != len(want) {
		t.Fatalf("ASN networks %+v", p.ASNNetworks)
	}
	for _, s := range p.ASNNetworks {
		if s.Count != want[s.Value] {
			t.Errorf("ASN %s: %d new subnets, want %d", s.Value, s.Count, want[s.Value])
		}
	}
	if v := p.AgentVersion("chrome/windows"); v != 145 {
		t.Errorf("newest chrome/windows %d, want 145", v)
	}
	if v := p.AgentVersion("firefox/linux"); v != 0 {
		t.Errorf("unseen family: %d", v)
	}
	var q Profile
	q.CopyFrom(&p)
	if q.NewDevices != p.NewDevices || q.NoDevice != p.NoDevice || !reflect.DeepEqual(q.ASNNetworks, p.ASNNetworks) || !reflect.DeepEqual(q.AgentVersions, p.AgentVersions) {
		t.Errorf("CopyFrom lost the counts: %+v", q)
	}
	q.Reset()
	if q.NewDevices != 0 || len(q.ASNNetworks) != 0 || len(q.AgentVersions) != 0 {
		t.Errorf("Reset kept the counts: %+v", q)
	}
}

// profileKey makes a distinct key from a test name.
func profileKey(s string) Key {
	var k Key
	copy(k[:], s)
	return k
}

// TestLearnCarriesFix: a login located only to its country keeps the last
// located login's fix and time, through several such logins, for a day.
func TestLearnCarriesFix(t *testing.T) {
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	a := netip.MustParseAddr("81.2.69.1")
	paris := Login{Tenant: "t", Time: at, IP: a, Subnet: SubnetOf(a), Country: "FR", City: "Paris", HasLocation: true, Lat: 48.8566, Lon: 2.3522, AccuracyKM: 20}
	countryOnly := func(after time.Duration) *Login {
		return &Login{Tenant: "t", Time: at.Add(after), IP: a, Subnet: SubnetOf(a), Country: "FR"}
	}
	var p Profile
	p.Learn(&paris)
	if p.Last.FixCarried() || p.Last.Lat != 48.86 {
		t.Fatalf("own fix: %+v", p.Last)
	}
	for _, after := range []time.Duration{2 * time.Hour, 20 * time.Hour} {
		p.Learn(countryOnly(after))
		if !p.Last.FixCarried() || p.Last.FixTime != at.Unix() || p.Last.Time != at.Add(after).Unix() || p.Last.Lat != 48.86 || p.Last.AccuracyKM != 20 {
			t.Errorf("%v after the located login: %+v", after, p.Last)
		}
	}
	p.Learn(countryOnly(25 * time.Hour))
	if p.Last.HasLocation || p.Last.FixTime != 0 {
		t.Errorf("25 hours after the located login: %+v, want no location", p.Last)
	}
	p.Learn(&paris) // older than the last login: does not move it
	if p.Last.HasLocation {
		t.Errorf("an older login moved the last one: %+v", p.Last)
	}
	lyon := paris
	lyon.Time, lyon.City, lyon.Lat, lyon.Lon = at.Add(26*time.Hour), "Lyon", 45.76, 4.84
	p.Learn(&lyon)
	if p.Last.FixCarried() || p.Last.City != "Lyon" || p.Last.Time != lyon.Time.Unix() {
		t.Errorf("a located login after: %+v", p.Last)
	}
}
