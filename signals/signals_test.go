package signals

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/useragent"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// known is a user with ten logins, the last one two hours ago in Paris
// from a laptop with Chrome on Windows, all around noon.
func known() *engine.State {
	st := &engine.State{HasProfile: true}
	p := &st.Profile
	p.Logins = 10
	p.FirstSeen = now.Add(-30 * 24 * time.Hour).Unix()
	p.LastSeen = now.Add(-2 * time.Hour).Unix()
	p.Hours[11], p.Hours[12], p.Hours[13] = 3, 5, 2
	laptop := devKey("laptop")
	p.Devices = []engine.Seen{{Value: string(laptop[:]), Count: 10}}
	p.Agents = []engine.Seen{{Value: "chrome/windows", Count: 10}}
	p.Countries = []engine.Seen{{Value: "FR", Count: 10}}
	p.Cities = []engine.Seen{{Value: "FR/Paris", Count: 10}}
	p.ASNs = []engine.Seen{{Value: "3215", Count: 10}}
	p.Networks = []engine.Seen{{Value: "81.2.69.0/24", Count: 10}}
	p.Last = engine.LastLogin{Time: p.LastSeen, Country: "FR", City: "Paris", HasLocation: true, Lat: 48.86, Lon: 2.35, AccuracyKM: 20}
	return st
}

func devKey(s string) engine.Key {
	var k engine.Key
	copy(k[:], s)
	return k
}

func input(st *engine.State) *engine.Input {
	addr := netip.MustParseAddr("81.2.69.160")
	return &engine.Input{Addr: addr, Subnet: engine.SubnetOf(addr), SubnetText: engine.SubnetOf(addr).String(), Time: now, State: st, StateAvailable: st != nil,
		Agent: useragent.Parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")}
}

func compute(t *testing.T, in *engine.Input, sigs ...engine.Signal) engine.Env {
	t.Helper()
	if in.State == nil {
		in.State = &engine.State{}
	}
	var env engine.Env
	env.Attempt.Hour = in.Time.UTC().Hour()
	for _, s := range append([]engine.Signal{User{MinHourLogins: 10, UnusualHourShare: 0.05}}, sigs...) {
		if err := s.Compute(in, &env); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

func TestUser(t *testing.T) {
	tests := []struct {
		name     string
		st       *engine.State
		at       time.Time
		known    bool
		unusual  bool
		share    float64
		learned  bool
		ageDays  float64
		sinceDay float64
	}{
		{"no state", nil, now, false, false, 0, false, 0, 0},
		{"new user", &engine.State{}, now, false, false, 0, false, 0, 0},
		{"usual hour", known(), now, true, false, 1, true, 30, 2.0 / 24},
		{"neighbour hour", known(), now.Add(2 * time.Hour), true, false, 0.2, true, 30 + 2.0/24, 4.0 / 24},
		{"3 am", known(), now.Add(15 * time.Hour), true, true, 0, true, 30 + 15.0/24, 17.0 / 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(tt.st)
			in.Time = tt.at
			u := compute(t, in).User
			if u.Known != tt.known || u.HourUnusual != tt.unusual || math.Abs(u.HourShare-tt.share) > 1e-9 || u.HoursLearned != tt.learned {
				t.Errorf("user %+v", u)
			}
			if math.Abs(u.AgeDays-tt.ageDays) > 1e-6 || math.Abs(u.DaysSince-tt.sinceDay) > 1e-6 {
				t.Errorf("age %v since %v, want %v %v", u.AgeDays, u.DaysSince, tt.ageDays, tt.sinceDay)
			}
		})
	}
	// Too little history: the hour is never unusual.
	st := known()
	st.Profile.Hours = [24]uint32{12: 3}
	in := input(st)
	in.Time = now.Add(15 * time.Hour)
	if u := compute(t, in).User; u.HourUnusual || u.HoursLearned {
		t.Errorf("3 logins of history judged the hour: %+v", u)
	}
}

func TestDevice(t *testing.T) {
	firefox := useragent.Parse("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0")
	tests := []struct {
		name                   string
		st                     *engine.State
		device                 engine.Key
		agent                  *useragent.Info
		known, new, famNew, id bool
	}{
		{"known device", known(), devKey("laptop"), nil, true, false, false, true},
		{"new device", known(), devKey("other"), nil, false, true, false, true},
		{"no device id, known browser", known(), engine.Key{}, nil, false, false, false, false},
		{"no device id, new browser", known(), engine.Key{}, &firefox, false, false, true, false},
		{"unknown user: nothing is new", &engine.State{}, devKey("other"), &firefox, false, false, false, true},
		{"store down: nothing is new", nil, devKey("other"), &firefox, false, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(tt.st)
			in.Device = tt.device
			if tt.agent != nil {
				in.Agent = *tt.agent
			}
			d := compute(t, in, Device{}).Device
			if d.Known != tt.known || d.New != tt.new || d.FamilyNew != tt.famNew || d.IDPresent != tt.id {
				t.Errorf("device %+v", d)
			}
			if d.Family != in.Agent.Family || d.Browser == "" {
				t.Errorf("agent not copied: %+v", d)
			}
		})
	}
}

func TestLocation(t *testing.T) {
	loc := func(country, city string, lat, lon, acc float64) engine.Location {
		return engine.Location{Known: true, Source: "geoip", Country: country, City: city, HasCoordinates: true, Lat: lat, Lon: lon, AccuracyKM: acc}
	}
	tests := []struct {
		name                              string
		st                                *engine.State
		loc                               engine.Location
		after                             time.Duration
		newCountry, newCity, velocity, im bool
		minKM, maxKM                      float64
	}{
		{"same city", known(), loc("FR", "Paris", 48.85, 2.36, 10), 2 * time.Hour, false, false, true, false, 0, 2},
		{"Lyon by train", known(), loc("FR", "Lyon", 45.76, 4.84, 20), 2 * time.Hour, false, true, true, false, 390, 400},
		{"London, 3 hours", known(), loc("GB", "London", 51.51, -0.13, 20), 3 * time.Hour, true, true, true, false, 340, 345},
		{"Sydney, 2 hours", known(), loc("AU", "Sydney", -33.87, 151.21, 20), 0, true, true, true, true, 16900, 17000},
		{"New York, 30 minutes", known(), loc("US", "New York", 40.71, -74.01, 50), -90 * time.Minute, true, true, true, true, 5800, 5900},
		// 600 km in 30 minutes is 1200 km/h, but with 300 km of uncertainty
		// on each fix the circles touch: not impossible.
		// 1,065 km of gap in 1.4 hours is 760 km/h, under the limit, but
		// no flight is that fast door to door (an hour plus the flight).
		{"Rome, 1.4 hours", known(), loc("IT", "Rome", 41.90, 12.50, 20), -36 * time.Minute, true, true, true, true, 1100, 1112},
		{"Rome, 2.5 hours", known(), loc("IT", "Rome", 41.90, 12.50, 20), 30 * time.Minute, true, true, true, false, 1100, 1112},
		// 164 km of gap in an hour and a half: a train, not impossible.
		{"Lille, 1.5 hours", known(), loc("FR", "Lille", 50.63, 3.06, 20), -30 * time.Minute, false, true, true, false, 200, 210},
		{"Lille, 20 minutes", known(), loc("FR", "Lille", 50.63, 3.06, 20), -100 * time.Minute, false, true, true, true, 200, 210},
		// 57 km five minutes later, on fixes the database gives 5 and 20
		// km: a metro area's home line and mobile gateway; each circle
		// counts at least 50 km.
		{"Fontainebleau, 5 minutes", known(), loc("FR", "Fontainebleau", 48.40, 2.70, 5), -115 * time.Minute, false, true, true, false, 55, 60},
		// An event dated two days before the last login, arriving late.
		{"New York, 2 days before", known(), loc("US", "New York", 40.71, -74.01, 20), -50 * time.Hour, true, true, true, false, 5800, 5900},
		{"loose fixes overlap", known(), loc("DE", "Frankfurt", 50.11, 8.68, 500), -90 * time.Minute, true, true, true, false, 470, 490},
		{"country only", known(), engine.Location{Known: true, Source: "geoip", Country: "ES"}, 0, true, false, false, false, 0, 0},
		{"unknown location", known(), engine.Location{}, 0, false, false, false, false, 0, 0},
		{"unknown user", &engine.State{}, loc("AU", "Sydney", -33.87, 151.21, 20), 0, false, false, false, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(tt.st)
			in.Time = now.Add(tt.after)
			in.Enrichment.Location = tt.loc
			g := compute(t, in, Location{MaxSpeedKMH: 1000}).Geo
			if g.NewCountry != tt.newCountry || g.NewCity != tt.newCity || g.VelocityKnown != tt.velocity || g.ImpossibleTravel != tt.im {
				t.Errorf("geo %+v", g)
			}
			if g.DistanceKM < tt.minKM || g.DistanceKM > tt.maxKM {
				t.Errorf("distance %.1f km, want %v..%v", g.DistanceKM, tt.minKM, tt.maxKM)
			}
			if tt.loc.Known != g.Known || (g.Known && g.Source != "geoip") || (!g.Known && g.Source != "none") {
				t.Errorf("known %v source %q", g.Known, g.Source)
			}
		})
	}
}

// TestLocationCarriedFix: after a last login located only to its country,
// speed is measured from the last located login before it, with that
// login's time, and speaks only when it proves the trip impossible.
func TestLocationCarriedFix(t *testing.T) {
	carried := func(fixAgo time.Duration) *engine.State {
		st := known()
		l := &st.Profile.Last
		l.FixTime = now.Add(-fixAgo).Unix()
		l.Time = now.Add(-time.Hour).Unix()
		l.City = ""
		return st
	}
	loc := func(country, city string, lat, lon float64) engine.Location {
		return engine.Location{Known: true, Source: "geoip", Country: country, City: city, HasCoordinates: true, Lat: lat, Lon: lon, AccuracyKM: 20}
	}
	tests := []struct {
		name         string
		st           *engine.State
		loc          engine.Location
		velocity, im bool
		minKMH       float64
	}{
		// 16,960 km since Paris 3 hours ago, though the last login (in
		// France, no coordinates) was an hour ago.
		{"Sydney, fix 3 hours old", carried(3 * time.Hour), loc("AU", "Sydney", -33.87, 151.21), true, true, 5000},
		{"Sydney, fix 20 hours old", carried(20 * time.Hour), loc("AU", "Sydney", -33.87, 151.21), false, false, 0},
		{"Lyon, fix 3 hours old", carried(3 * time.Hour), loc("FR", "Lyon", 45.76, 4.84), false, false, 0},
		{"country only", carried(3 * time.Hour), engine.Location{Known: true, Source: "geoip", Country: "AU"}, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(tt.st)
			in.Time = now
			in.Enrichment.Location = tt.loc
			g := compute(t, in, Location{MaxSpeedKMH: 1000}).Geo
			if g.VelocityKnown != tt.velocity || g.ImpossibleTravel != tt.im || g.SpeedKMH < tt.minKMH {
				t.Errorf("geo %+v", g)
			}
			if !tt.velocity && (g.DistanceKM != 0 || g.SpeedKMH != 0) {
				t.Errorf("distance %.0f km and speed %.0f km/h shown for a possible trip", g.DistanceKM, g.SpeedKMH)
			}
			if g.HoursSince != 1 {
				t.Errorf("hours since the last login = %v, want 1 (the last login's, not the fix's)", g.HoursSince)
			}
		})
	}
}

// TestCountryDaysSince: how long ago the user was last in this country.
func TestCountryDaysSince(t *testing.T) {
	st := known()
	st.Profile.Countries = []engine.Seen{{Value: "FR", Count: 9, Last: now.Add(-2 * time.Hour).Unix()}, {Value: "BR", Count: 1, Last: now.Add(-9 * 24 * time.Hour).Unix()}}
	for _, tt := range []struct {
		country string
		days    float64
		isNew   bool
	}{{"BR", 9, false}, {"FR", 2.0 / 24, false}, {"AU", 0, true}} {
		in := input(st)
		in.Time = now
		in.Enrichment.Location = engine.Location{Known: true, Source: "geoip", Country: tt.country}
		g := compute(t, in, Location{MaxSpeedKMH: 1000}).Geo
		if math.Abs(g.CountryDaysSince-tt.days) > 1e-9 || g.NewCountry != tt.isNew {
			t.Errorf("%s: days since %v, new %v; want %v, %v", tt.country, g.CountryDaysSince, g.NewCountry, tt.days, tt.isNew)
		}
	}
}

func TestHaversine(t *testing.T) {
	// Paris to New York is 5837 km (great circle, mean radius).
	if d := Haversine(48.8566, 2.3522, 40.7128, -74.0060); math.Abs(d-5837) > 5 {
		t.Errorf("Paris-New York %.0f km", d)
	}
	if d := Haversine(0, 0, 0, 180); math.Abs(d-math.Pi*earthRadiusKM) > 1e-6 {
		t.Errorf("antipodes %.3f km", d)
	}
	if d := Haversine(10, 10, 10, 10); d != 0 {
		t.Errorf("same point %v", d)
	}
}

func TestNetwork(t *testing.T) {
	lists := []string{"corp_vpn"}
	tests := []struct {
		name    string
		ip      string
		net     engine.Network
		st      *engine.State
		check   func(env engine.Env) bool
		explain string
	}{
		{"private", "10.1.2.3", engine.Network{Class: engine.ClassPrivate}, known(), func(e engine.Env) bool {
			return e.IP.Class == "private" && !e.IP.Public && e.IP.Version == 4
		}, "class private"},
		{"ipv6 public", "2a01:e0a::1", engine.Network{}, nil, func(e engine.Env) bool {
			return e.IP.Class == "public" && e.IP.Public && e.IP.Version == 6 && e.Subnet.Prefix == "2a01:e0a::/48"
		}, "v6 /48"},
		{"lists and hosting", "81.2.69.160", engine.Network{ASN: 16509, ASOrg: "AMAZON-02", HostingASN: true, Lists: lists}, known(), func(e engine.Env) bool {
			return e.ASN.Known && e.ASN.Number == 16509 && e.ASN.Hosting && e.IP.Hosting && e.IP.Anonymous && e.ASN.New && len(e.IP.Lists) == 1
		}, "hosting ASN, new for the user"},
		{"known asn and subnet", "81.2.69.99", engine.Network{ASN: 3215}, known(), func(e engine.Env) bool {
			return !e.ASN.New && !e.IP.NewForUser && e.Subnet.Prefix == "81.2.69.0/24"
		}, "seen before"},
		{"new subnet", "81.2.70.1", engine.Network{ASN: 3215}, known(), func(e engine.Env) bool { return e.IP.NewForUser }, "new /24"},
		{"tor", "81.2.69.160", engine.Network{AnonymousKnown: true, Tor: true}, nil, func(e engine.Env) bool {
			return e.IP.Tor && e.IP.Anonymous && e.IP.AnonymousKnown && !e.IP.VPN
		}, "tor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(tt.st)
			in.Addr = netip.MustParseAddr(tt.ip)
			in.Subnet = engine.SubnetOf(in.Addr)
			in.SubnetText = in.Subnet.String()
			in.Enrichment.Network = tt.net
			env := compute(t, in, Network{})
			if !tt.check(env) {
				t.Errorf("%s: ip %+v asn %+v subnet %+v", tt.explain, env.IP, env.ASN, env.Subnet)
			}
		})
	}
}

func TestAttackWindows(t *testing.T) {
	st := &engine.State{Counts: engine.Counts{
		IP:               engine.NetCounts{Failures: [3]uint32{1, 2, 3}, Usernames: [3]uint32{4, 5, 6}},
		Subnet:           engine.NetCounts{Failures: [3]uint32{7, 8, 9}},
		ASN:              engine.NetCounts{Usernames: [3]uint32{10, 11, 12}},
		AccountFailures:  [3]uint32{13, 14, 15},
		PasswordAccounts: [3]uint32{16, 17, 18},
		TenantAttempts:   [3]uint32{100, 1000, 10000},
		TenantFailures:   [3]uint32{50, 200, 550},
	}}
	env := compute(t, input(st), AttackWindows{})
	if env.IP.Failures10m != 1 || env.IP.Usernames24h != 6 || env.Subnet.Failures24h != 9 || env.ASN.Usernames1h != 11 {
		t.Errorf("net windows: ip %+v subnet %+v asn %+v", env.IP.NetWindows, env.Subnet.NetWindows, env.ASN.NetWindows)
	}
	if env.Account.Failures7d != 15 || env.Password.Accounts1h != 16 || env.Password.Accounts7d != 18 {
		t.Errorf("account %+v password %+v", env.Account, env.Password)
	}
	tn := env.Tenant
	// 10m: 50/100; baseline: (550-50)/(10000-100) = 0.0505; surge 9.9.
	if tn.FailureRate10m != 0.5 || math.Abs(tn.FailureRate24h-0.055) > 1e-9 || math.Abs(tn.FailureSurge-0.5/(500.0/9900)) > 1e-9 {
		t.Errorf("tenant %+v", tn)
	}
	// The store down: nothing is counted, nothing is claimed.
	if env := compute(t, input(nil), AttackWindows{}); env.IP.Failures10m != 0 || env.Tenant.FailureSurge != 0 {
		t.Errorf("windows without state: %+v %+v", env.IP, env.Tenant)
	}
}

func TestPassword(t *testing.T) {
	breachedSet := map[[20]byte]int{{1}: 3}
	check := BreachChecker(func(h *[20]byte) (bool, int) {
		tier, ok := breachedSet[*h]
		return ok, tier
	})
	tests := []struct {
		name       string
		has        bool
		hash       [20]byte
		check      BreachChecker
		status     string
		breached   bool
		tier       int
		wantCalled bool
	}{
		{"no hash", false, [20]byte{}, check, "unknown", false, 0, false},
		{"no filter", true, [20]byte{1}, nil, "unknown", false, 0, false},
		{"breached", true, [20]byte{1}, check, "breached", true, 3, true},
		{"clean", true, [20]byte{2}, check, "clean", false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(nil)
			in.HasPassword, in.Password = tt.has, tt.hash
			p := compute(t, in, Password{Check: tt.check}).Password
			if p.Status != tt.status || p.Breached != tt.breached || p.Tier != tt.tier || p.Present != tt.has {
				t.Errorf("password %+v", p)
			}
		})
	}
}

func TestDefaultOrder(t *testing.T) {
	sigs := Default(Config{})
	if sigs[0].Name() != "user" {
		t.Errorf("first signal %s: novelty signals need user.known first", sigs[0].Name())
	}
	seen := map[string]bool{}
	for _, s := range sigs {
		if seen[s.Name()] {
			t.Errorf("signal %s registered twice", s.Name())
		}
		seen[s.Name()] = true
	}
}

// TestDeviceVersionBehind: a browser older than the newest of its family
// the user completed a login with (a copied string, weeks old).
func TestDeviceVersionBehind(t *testing.T) {
	chrome := func(v string) useragent.Info {
		return useragent.Parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + v + ".0.0.0 Safari/537.36")
	}
	for _, tt := range []struct {
		name   string
		agent  useragent.Info
		behind int
	}{
		{"current", chrome("145"), 0},
		{"newer", chrome("146"), 0},
		{"three behind", chrome("142"), 3},
		{"other family", useragent.Parse("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := known()
			st.Profile.AgentVersions = []engine.Seen{{Value: "chrome/windows", Count: 145}}
			in := input(st)
			in.Agent = tt.agent
			if d := compute(t, in, Device{}).Device; d.VersionBehind != tt.behind || d.Version != int(tt.agent.Version) {
				t.Errorf("version %d behind %d, want %d behind %d", d.Version, d.VersionBehind, tt.agent.Version, tt.behind)
			}
		})
	}
}

// TestSharedAddress: many accounts with few failures is a NAT; many
// accounts failing is a bot.
func TestSharedAddress(t *testing.T) {
	for _, tt := range []struct {
		name                string
		usernames, failures uint32
		shared              bool
	}{
		{"office NAT", 250, 9, true},
		{"few accounts", 9, 0, false},
		{"stuffing bot", 40, 40, false},
		{"at the bound", 50, 10, true},
		{"just past it", 50, 11, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input(known())
			in.State.Counts.IP = engine.NetCounts{Usernames: [3]uint32{0, 0, tt.usernames}, Failures: [3]uint32{0, 0, tt.failures}}
			in.State.Counts.Subnet = in.State.Counts.IP
			env := compute(t, in, AttackWindows{})
			if env.IP.Shared != tt.shared || env.Subnet.Shared != tt.shared {
				t.Errorf("ip.shared %v subnet.shared %v, want %v", env.IP.Shared, env.Subnet.Shared, tt.shared)
			}
		})
	}
}
