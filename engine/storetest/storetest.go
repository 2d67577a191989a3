// Package storetest is the conformance suite every engine.Store must pass.
// Run calls it with a constructor; each subtest gets a fresh, empty store.
// Distinct counts may be approximate (HyperLogLog) within a small
// tolerance; every other count must be exact.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// NewStore returns a fresh, empty store. The suite closes it.
type NewStore func(t *testing.T) engine.Store

// base is a fixed instant, aligned to the hour so that window buckets of
// every resolution start at it.
var base = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// Run runs the conformance suite.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		f    func(t *testing.T, s engine.Store)
	}{
		{"EmptyObserveCountsItself", testEmptyObserve},
		{"FailuresPerAddressWindows", testAddressFailures},
		{"DistinctUsernamesPerAddress", testDistinctUsernames},
		{"SubnetAggregatesAddresses", testSubnet},
		{"ASNWindows", testASN},
		{"AccountFailuresOverDays", testAccountFailures},
		{"PasswordSpray", testPasswordAccounts},
		{"TenantRates", testTenantRates},
		{"TenantsAreIsolated", testTenantIsolation},
		{"RecordCountsOnlyFailures", testRecord},
		{"LearnAndReadProfile", testLearnProfile},
		{"ProfileGrowthCounts", testGrowthCounts},
		{"ProfileCopyIsIndependent", testProfileCopy},
		{"ProfileSetsAreCapped", testProfileCaps},
		{"PendingRoundTrip", testPending},
		{"ForgetErasesUser", testForget},
		{"ConcurrentWritersAreExact", testConcurrent},
		{"CanceledContext", testCanceled},
		{"AttemptCountedOnce", testAttemptOnce},
		{"AttemptRaceCountedOnce", testAttemptConcurrent},
		{"ForgetErasesAttempts", testForgetErasesAttempts},
		{"AttemptMark", testAttemptMark},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := s.Close(ctx); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.f(t, s)
		})
	}
}

// key makes a deterministic key for a test identifier.
func key(s string) engine.Key {
	sum := sha256.Sum256([]byte(s))
	return engine.Key(sum[:16])
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// event builds an attempt event from an address and a username.
func event(tenant, ip, user string, at time.Time, failed bool) *engine.Event {
	a := addr(ip)
	ev := &engine.Event{Tenant: tenant, Time: at, IP: a, Subnet: engine.SubnetOf(a), Attempt: true, Failed: failed}
	if user != "" {
		ev.Username = key("username:" + user)
		ev.Account = key("user:" + user)
		ev.User = ev.Account
	}
	return ev
}

func observe(t *testing.T, s engine.Store, ev *engine.Event) engine.State {
	t.Helper()
	var st engine.State
	if err := s.Observe(context.Background(), ev, &st); err != nil {
		t.Fatalf("Observe: %v", err)
	}
	return st
}

// near accepts a distinct count within 2% (at least 1) of want, the
// tolerance HyperLogLog needs; exact stores pass trivially.
func near(got uint32, want int) bool {
	d := int(got) - want
	if d < 0 {
		d = -d
	}
	return d <= max(1, want/50)
}

func checkDistinct(t *testing.T, what string, got [3]uint32, want [3]int) {
	t.Helper()
	for i := range got {
		if want[i] == 0 && got[i] != 0 || !near(got[i], want[i]) {
			t.Errorf("%s = %v, want about %v", what, got, want)
			return
		}
	}
}

func testEmptyObserve(t *testing.T, s engine.Store) {
	st := observe(t, s, event("t1", "198.51.100.7", "alice", base, false))
	if st.HasProfile {
		t.Error("HasProfile on an empty store")
	}
	c := st.Counts
	if c.IP.Failures != [3]uint32{} || c.AccountFailures != [3]uint32{} || c.TenantFailures != [3]uint32{} {
		t.Errorf("failures on a success-less store: %+v", c)
	}
	checkDistinct(t, "IP usernames", c.IP.Usernames, [3]int{1, 1, 1})
	if c.TenantAttempts != [3]uint32{1, 1, 1} {
		t.Errorf("TenantAttempts = %v, want the attempt itself counted", c.TenantAttempts)
	}
}

func testAddressFailures(t *testing.T, s engine.Store) {
	// Failures at -23h, -50m, -5m and now (relative to the last event);
	// the last one is the observed attempt itself.
	last := base.Add(24 * time.Hour)
	for _, ago := range []time.Duration{23 * time.Hour, 50 * time.Minute, 5 * time.Minute} {
		observe(t, s, event("t1", "198.51.100.7", "bob", last.Add(-ago), true))
	}
	// A failure 2 days earlier must have left every window.
	observe(t, s, event("t1", "198.51.100.7", "bob", last.Add(-48*time.Hour), true))
	st := observe(t, s, event("t1", "198.51.100.7", "bob", last, true))
	if got, want := st.Counts.IP.Failures, [3]uint32{2, 3, 4}; got != want {
		t.Errorf("IP failures (10m, 1h, 24h) = %v, want %v", got, want)
	}
	// Another address is untouched but shares the /24.
	st = observe(t, s, event("t1", "198.51.100.8", "bob", last, false))
	if got := st.Counts.IP.Failures; got != [3]uint32{} {
		t.Errorf("other address failures = %v, want none", got)
	}
	if got, want := st.Counts.Subnet.Failures, [3]uint32{2, 3, 4}; got != want {
		t.Errorf("subnet failures = %v, want %v", got, want)
	}
}

func testDistinctUsernames(t *testing.T, s engine.Store) {
	at := base
	for i := range 30 {
		// 30 attempts over 15 distinct usernames, each tried twice.
		observe(t, s, event("t1", "203.0.113.9", fmt.Sprintf("user%02d", i%15), at.Add(time.Duration(i)*10*time.Second), true))
	}
	st := observe(t, s, event("t1", "203.0.113.9", "user00", at.Add(5*time.Minute), false))
	checkDistinct(t, "usernames", st.Counts.IP.Usernames, [3]int{15, 15, 15})
	if got := st.Counts.IP.Failures; got != [3]uint32{30, 30, 30} {
		t.Errorf("failures = %v, want 30 in every window", got)
	}
	// Two hours later only the 24h window remembers them.
	st = observe(t, s, event("t1", "203.0.113.9", "late", at.Add(2*time.Hour), false))
	checkDistinct(t, "usernames 2h later", st.Counts.IP.Usernames, [3]int{1, 1, 16})
}

func testSubnet(t *testing.T, s engine.Store) {
	for i := range 10 {
		observe(t, s, event("t1", fmt.Sprintf("192.0.2.%d", 10+i), fmt.Sprintf("u%d", i), base, true))
	}
	st := observe(t, s, event("t1", "192.0.2.200", "u0", base, false))
	if got := st.Counts.Subnet.Failures; got != [3]uint32{10, 10, 10} {
		t.Errorf("IPv4 /24 failures = %v, want 10", got)
	}
	checkDistinct(t, "IPv4 /24 usernames", st.Counts.Subnet.Usernames, [3]int{10, 10, 10})
	if got := st.Counts.IP.Failures; got != [3]uint32{} {
		t.Errorf("fresh address failures = %v", got)
	}
	// IPv6: same /48, different /64s.
	observe(t, s, event("t1", "2001:db8:aa:1::1", "v", base, true))
	observe(t, s, event("t1", "2001:db8:aa:2::1", "w", base, true))
	st = observe(t, s, event("t1", "2001:db8:aa:ffff::9", "x", base, false))
	if got := st.Counts.Subnet.Failures; got != [3]uint32{2, 2, 2} {
		t.Errorf("IPv6 /48 failures = %v, want 2", got)
	}
	st = observe(t, s, event("t1", "2001:db8:ab::1", "x", base, false))
	if got := st.Counts.Subnet.Failures; got != [3]uint32{} {
		t.Errorf("other /48 failures = %v, want none", got)
	}
}

func testASN(t *testing.T, s engine.Store) {
	for i := range 5 {
		ev := event("t1", fmt.Sprintf("198.51.%d.1", i), fmt.Sprintf("u%d", i), base, true)
		ev.ASN = 64500
		observe(t, s, ev)
	}
	ev := event("t1", "198.51.99.1", "u9", base, false)
	ev.ASN = 64500
	st := observe(t, s, ev)
	if got := st.Counts.ASN.Failures; got != [3]uint32{5, 5, 5} {
		t.Errorf("ASN failures = %v, want 5", got)
	}
	checkDistinct(t, "ASN usernames", st.Counts.ASN.Usernames, [3]int{6, 6, 6})
	ev = event("t1", "198.51.99.1", "u9", base, false) // no ASN
	st = observe(t, s, ev)
	if st.Counts.ASN != (engine.NetCounts{}) {
		t.Errorf("ASN counts without an ASN: %+v", st.Counts.ASN)
	}
}

func testAccountFailures(t *testing.T, s engine.Store) {
	// A slow brute force: one failure every 4 hours for 3 days, each from a
	// different address.
	last := base.Add(72 * time.Hour)
	n := 0
	for at := base; !at.After(last); at = at.Add(4 * time.Hour) {
		observe(t, s, event("t1", fmt.Sprintf("198.51.100.%d", n%250), "carol", at, true))
		n++
	}
	st := observe(t, s, event("t1", "198.51.100.251", "carol", last.Add(time.Minute), false))
	// Failures at last-0h, -4h, ... -72h: 1 within the hour, 6 within 24h, 19 in 7 days.
	if got, want := st.Counts.AccountFailures, [3]uint32{1, 6, 19}; got != want {
		t.Errorf("account failures (1h, 24h, 7d) = %v, want %v", got, want)
	}
	if got := st.Counts.IP.Failures; got != [3]uint32{} {
		t.Errorf("per-address failures = %v; the attack stayed under any per-IP limit", got)
	}
}

func testPasswordAccounts(t *testing.T, s engine.Store) {
	pw := key("password:Winter2026!")
	for i := range 40 {
		ev := event("t1", fmt.Sprintf("198.51.100.%d", i), fmt.Sprintf("victim%d", i), base.Add(time.Duration(i)*time.Minute), true)
		ev.Password = pw
		observe(t, s, ev)
	}
	ev := event("t1", "198.51.100.99", "victim0", base.Add(50*time.Minute), true)
	ev.Password = pw
	st := observe(t, s, ev)
	checkDistinct(t, "accounts per password", st.Counts.PasswordAccounts, [3]int{40, 40, 40})
	ev = event("t1", "198.51.100.99", "someone", base.Add(50*time.Minute), false)
	ev.Password = key("password:other")
	st = observe(t, s, ev)
	checkDistinct(t, "accounts for another password", st.Counts.PasswordAccounts, [3]int{1, 1, 1})
}

func testTenantRates(t *testing.T, s engine.Store) {
	for i := range 20 {
		observe(t, s, event("t1", "198.51.100.1", fmt.Sprintf("u%d", i), base.Add(time.Duration(i)*time.Second), i%4 == 0))
	}
	st := observe(t, s, event("t1", "198.51.100.1", "u", base.Add(time.Minute), false))
	if got := st.Counts.TenantAttempts; got != [3]uint32{21, 21, 21} {
		t.Errorf("tenant attempts = %v, want 21", got)
	}
	if got := st.Counts.TenantFailures; got != [3]uint32{5, 5, 5} {
		t.Errorf("tenant failures = %v, want 5", got)
	}
}

func testTenantIsolation(t *testing.T, s engine.Store) {
	observe(t, s, event("a", "198.51.100.1", "dave", base, true))
	ctx := context.Background()
	if err := s.Commit(ctx, &engine.Commit{Learn: &engine.Login{Tenant: "a", User: key("user:dave"), Time: base, IP: addr("198.51.100.1"), Country: "FR"}}); err != nil {
		t.Fatal(err)
	}
	st := observe(t, s, event("b", "198.51.100.1", "dave", base, false))
	if st.HasProfile {
		t.Error("tenant b sees tenant a's profile")
	}
	if st.Counts.IP.Failures != [3]uint32{} || st.Counts.AccountFailures != [3]uint32{} {
		t.Errorf("tenant b sees tenant a's failures: %+v", st.Counts)
	}
	if _, ok, _ := s.Profile(ctx, "b", key("user:dave")); ok {
		t.Error("Profile in tenant b found tenant a's user")
	}
}

func testRecord(t *testing.T, s engine.Store) {
	ev := event("t1", "198.51.100.3", "erin", base, false)
	observe(t, s, ev)
	late := *ev
	late.Attempt, late.Failed = false, true
	if err := s.Record(context.Background(), &late); err != nil {
		t.Fatal(err)
	}
	st := observe(t, s, event("t1", "198.51.100.3", "erin", base.Add(time.Second), false))
	if got := st.Counts.IP.Failures; got != [3]uint32{1, 1, 1} {
		t.Errorf("failures after Record = %v, want 1", got)
	}
	if got := st.Counts.AccountFailures; got != [3]uint32{1, 1, 1} {
		t.Errorf("account failures after Record = %v, want 1", got)
	}
	if got := st.Counts.TenantAttempts; got != [3]uint32{2, 2, 2} {
		t.Errorf("tenant attempts = %v: Record must not count an attempt", got)
	}
}

func login(user string, at time.Time, device, country, city string) *engine.Login {
	ip := addr("198.51.100.20")
	l := &engine.Login{Tenant: "t1", User: key("user:" + user), Time: at, IP: ip, Subnet: engine.SubnetOf(ip),
		Agent: "chrome/windows", Country: country, City: city, HasLocation: true, Lat: 48.8566, Lon: 2.3522, AccuracyKM: 20, ASN: 3215}
	if device != "" {
		l.Device = key("device:" + device)
	}
	return l
}

func testLearnProfile(t *testing.T, s engine.Store) {
	ctx := context.Background()
	for i, d := range []string{"laptop", "phone", "laptop"} {
		if err := s.Commit(ctx, &engine.Commit{Learn: login("frank", base.Add(time.Duration(i)*time.Hour), d, "FR", "Paris")}); err != nil {
			t.Fatal(err)
		}
	}
	p, ok, err := s.Profile(ctx, "t1", key("user:frank"))
	if err != nil || !ok {
		t.Fatalf("Profile = %v, %v", ok, err)
	}
	if p.Logins != 3 || len(p.Devices) != 2 || !p.HasDevice(key("device:laptop")) || !p.HasDevice(key("device:phone")) {
		t.Errorf("logins %d, devices %d: %+v", p.Logins, len(p.Devices), p)
	}
	if !engine.Has(p.Countries, "FR") || !p.HasCity("FR", "Paris") || !p.HasASN(3215) || !engine.Has(p.Agents, "chrome/windows") {
		t.Errorf("profile sets: %+v", p)
	}
	if p.FirstSeen != base.Unix() || p.Last.Time != base.Add(2*time.Hour).Unix() || !p.Last.HasLocation || p.Last.Country != "FR" {
		t.Errorf("first %d, last %+v", p.FirstSeen, p.Last)
	}
	if p.Hours[10] != 1 || p.Hours[11] != 1 || p.Hours[12] != 1 {
		t.Errorf("hours = %v", p.Hours)
	}
	if !engine.Has(p.Networks, "198.51.100.0/24") {
		t.Errorf("networks = %v", p.Networks)
	}
	st := observe(t, s, event("t1", "198.51.100.20", "frank", base.Add(3*time.Hour), false))
	if !st.HasProfile || st.Profile.Logins != 3 || !st.Profile.HasDevice(key("device:phone")) {
		t.Errorf("Observe profile: %v %+v", st.HasProfile, st.Profile)
	}
	// An out-of-order (older) login must not move the last login back.
	if err := s.Commit(ctx, &engine.Commit{Learn: login("frank", base.Add(-time.Hour), "tablet", "DE", "Berlin")}); err != nil {
		t.Fatal(err)
	}
	p, _, _ = s.Profile(ctx, "t1", key("user:frank"))
	if p.Last.Country != "FR" || p.FirstSeen != base.Add(-time.Hour).Unix() || p.Logins != 4 {
		t.Errorf("after an older login: last %+v first %d logins %d", p.Last, p.FirstSeen, p.Logins)
	}
	// A login located only to its country keeps the last located
	// login's fix, with that login's time, for the speed of the next one.
	located := p.Last
	countryOnly := login("frank", base.Add(3*time.Hour), "phone", "FR", "")
	countryOnly.HasLocation, countryOnly.Lat, countryOnly.Lon, countryOnly.AccuracyKM = false, 0, 0, 0
	if err := s.Commit(ctx, &engine.Commit{Learn: countryOnly}); err != nil {
		t.Fatal(err)
	}
	p, _, _ = s.Profile(ctx, "t1", key("user:frank"))
	if !p.Last.FixCarried() || p.Last.Time != base.Add(3*time.Hour).Unix() || p.Last.FixTime != located.Time ||
		p.Last.Lat != located.Lat || p.Last.Lon != located.Lon || p.Last.AccuracyKM != located.AccuracyKM || p.Last.City != "" {
		t.Errorf("after a country-only login: last %+v, want the fix of %+v", p.Last, located)
	}
	st = observe(t, s, event("t1", "198.51.100.20", "frank", base.Add(4*time.Hour), false))
	if st.Profile.Last != p.Last {
		t.Errorf("Observe last = %+v, want %+v", st.Profile.Last, p.Last)
	}
	// A day later the fix bounds nothing and is dropped.
	countryOnly.Time = base.Add(28 * time.Hour)
	if err := s.Commit(ctx, &engine.Commit{Learn: countryOnly}); err != nil {
		t.Fatal(err)
	}
	p, _, _ = s.Profile(ctx, "t1", key("user:frank"))
	if p.Last.HasLocation || p.Last.FixTime != 0 || p.Last.Time != base.Add(28*time.Hour).Unix() {
		t.Errorf("a day after the located login: last %+v, want no location", p.Last)
	}
}

// testGrowthCounts: the counts the statistical score reads survive the
// store: new devices, logins without one, new subnets per ASN, the newest
// browser version per family.
func testGrowthCounts(t *testing.T, s engine.Store) {
	ctx := context.Background()
	for i, c := range []struct {
		device, ip string
		version    uint16
	}{{"laptop", "198.51.100.20", 144}, {"", "198.51.100.21", 146}, {"phone", "203.0.113.9", 145}, {"laptop", "203.0.113.9", 0}} {
		l := login("hugo", base.Add(time.Duration(i)*time.Hour), c.device, "FR", "Paris")
		l.IP = addr(c.ip)
		l.Subnet = engine.SubnetOf(l.IP)
		l.AgentVersion = c.version
		if err := s.Commit(ctx, &engine.Commit{Learn: l}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(where string, p *engine.Profile) {
		t.Helper()
		if p.NewDevices != 2 || p.NoDevice != 1 || p.AgentVersion("chrome/windows") != 146 {
			t.Errorf("%s: new devices %d, no device %d, newest chrome/windows %d; want 2, 1, 146", where, p.NewDevices, p.NoDevice, p.AgentVersion("chrome/windows"))
		}
		if len(p.ASNNetworks) != 1 || p.ASNNetworks[0].Value != "3215" || p.ASNNetworks[0].Count != 2 {
			t.Errorf("%s: new subnets per ASN %+v, want 3215: 2", where, p.ASNNetworks)
		}
	}
	p, ok, err := s.Profile(ctx, "t1", key("user:hugo"))
	if err != nil || !ok {
		t.Fatalf("Profile = %v, %v", ok, err)
	}
	check("Profile", &p)
	st := observe(t, s, event("t1", "198.51.100.20", "hugo", base.Add(5*time.Hour), false))
	check("Observe", &st.Profile)
}

func testProfileCopy(t *testing.T, s engine.Store) {
	ctx := context.Background()
	if err := s.Commit(ctx, &engine.Commit{Learn: login("gina", base, "laptop", "FR", "Paris")}); err != nil {
		t.Fatal(err)
	}
	st := observe(t, s, event("t1", "198.51.100.20", "gina", base, false))
	st.Profile.Devices[0].Value = "tampered"
	st.Profile.Countries = append(st.Profile.Countries[:0], engine.Seen{Value: "XX"})
	p, _, _ := s.Profile(ctx, "t1", key("user:gina"))
	if !p.HasDevice(key("device:laptop")) || !engine.Has(p.Countries, "FR") {
		t.Errorf("changing the observed copy changed the store: %+v", p)
	}
}

func testProfileCaps(t *testing.T, s engine.Store) {
	ctx := context.Background()
	for i := range engine.MaxDevices + 4 {
		l := login("hank", base.Add(time.Duration(i)*time.Minute), fmt.Sprintf("dev%d", i), "FR", "Paris")
		if i == 0 {
			// The first device is used often: it must survive the churn.
			for j := range 5 {
				l.Time = base.Add(time.Duration(j) * time.Second)
				if err := s.Commit(ctx, &engine.Commit{Learn: l}); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		if err := s.Commit(ctx, &engine.Commit{Learn: l}); err != nil {
			t.Fatal(err)
		}
	}
	p, _, _ := s.Profile(ctx, "t1", key("user:hank"))
	if len(p.Devices) != engine.MaxDevices {
		t.Errorf("devices = %d, want the cap %d", len(p.Devices), engine.MaxDevices)
	}
	if !p.HasDevice(key("device:dev0")) {
		t.Error("the most used device was evicted")
	}
	if !p.HasDevice(key(fmt.Sprintf("device:dev%d", engine.MaxDevices+3))) {
		t.Error("the newest device was not kept")
	}
}

func pending(id, user string) *engine.Pending {
	ev := event("t1", "198.51.100.30", user, base, false)
	ev.Attempt = false
	l := login(user, base, "laptop", "FR", "Paris")
	return &engine.Pending{DecisionID: id, Action: engine.ActionStepUp, Result: engine.ResultPasswordOK, Event: *ev, Login: *l}
}

func testPending(t *testing.T, s engine.Store) {
	ctx := context.Background()
	want := pending("01JDECISION0000000000000001", "ivan")
	if err := s.Commit(ctx, &engine.Commit{Pending: want}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.TakePending(ctx, "other", want.DecisionID); ok || err != nil {
		t.Errorf("TakePending from another tenant = %v, %v", ok, err)
	}
	got, ok, err := s.TakePending(ctx, "t1", want.DecisionID)
	if err != nil || !ok {
		t.Fatalf("TakePending = %v, %v", ok, err)
	}
	if !pendingEqual(got, *want) {
		t.Errorf("pending round trip:\n got %+v\nwant %+v", got, *want)
	}
	if _, ok, _ := s.TakePending(ctx, "t1", want.DecisionID); ok {
		t.Error("a pending decision can be taken twice")
	}
}

// pendingEqual compares field by field; times compare as instants.
func pendingEqual(a, b engine.Pending) bool {
	if !a.Event.Time.Equal(b.Event.Time) || !a.Login.Time.Equal(b.Login.Time) {
		return false
	}
	a.Event.Time, b.Event.Time, a.Login.Time, b.Login.Time = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

func testForget(t *testing.T, s engine.Store) {
	ctx := context.Background()
	for _, u := range []string{"judy", "kim"} {
		if err := s.Commit(ctx, &engine.Commit{Learn: login(u, base, "laptop", "FR", "Paris")}); err != nil {
			t.Fatal(err)
		}
		observe(t, s, event("t1", "198.51.100.40", u, base, true))
		if err := s.Commit(ctx, &engine.Commit{Pending: pending("01JPENDING-"+u, u)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Forget(ctx, "t1", key("user:judy")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Profile(ctx, "t1", key("user:judy")); ok {
		t.Error("profile survives Forget")
	}
	if _, ok, _ := s.TakePending(ctx, "t1", "01JPENDING-judy"); ok {
		t.Error("pending decision survives Forget: it could re-teach the baseline")
	}
	st := observe(t, s, event("t1", "198.51.100.41", "judy", base, false))
	if st.HasProfile || st.Counts.AccountFailures != [3]uint32{} {
		t.Errorf("after Forget: profile %v, account failures %v", st.HasProfile, st.Counts.AccountFailures)
	}
	if _, ok, _ := s.Profile(ctx, "t1", key("user:kim")); !ok {
		t.Error("Forget erased another user's profile")
	}
	if _, ok, _ := s.TakePending(ctx, "t1", "01JPENDING-kim"); !ok {
		t.Error("Forget erased another user's pending decision")
	}
}

func testConcurrent(t *testing.T, s engine.Store) {
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for i := range each {
				ev := event("t1", "198.51.100.50", fmt.Sprintf("w%d-%d", w, i%5), base.Add(time.Duration(i)*time.Second), true)
				var st engine.State
				if err := s.Observe(ctx, ev, &st); err != nil {
					errs <- err
					return
				}
				if err := s.Commit(ctx, &engine.Commit{Learn: login(fmt.Sprintf("w%d", w), base.Add(time.Duration(i)*time.Second), "d", "FR", "Paris")}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := observe(t, s, event("t1", "198.51.100.50", "", base.Add(time.Minute), false))
	if got := st.Counts.IP.Failures[0]; got != workers*each {
		t.Errorf("failures after concurrent writes = %d, want %d", got, workers*each)
	}
	checkDistinct(t, "usernames", st.Counts.IP.Usernames, [3]int{workers * 5, workers * 5, workers * 5})
	for w := range workers {
		p, ok, err := s.Profile(context.Background(), "t1", key(fmt.Sprintf("user:w%d", w)))
		if err != nil || !ok || p.Logins != each {
			t.Errorf("worker %d profile: ok %v err %v logins %d, want %d", w, ok, err, p.Logins, each)
		}
	}
}

func testCanceled(t *testing.T, s engine.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var st engine.State
	if err := s.Observe(ctx, event("t1", "198.51.100.60", "x", base, true), &st); !errors.Is(err, context.Canceled) {
		t.Errorf("Observe with a canceled context = %v, want context.Canceled", err)
	}
	if err := s.Record(ctx, event("t1", "198.51.100.60", "x", base, true)); !errors.Is(err, context.Canceled) {
		t.Errorf("Record with a canceled context = %v, want context.Canceled", err)
	}
	st = observe(t, s, event("t1", "198.51.100.60", "y", base, false))
	if st.Counts.IP.Failures != [3]uint32{} {
		t.Errorf("a canceled call was applied: %v", st.Counts.IP.Failures)
	}
}
