package engine

// Env is what rules see: every signal's features, typed, grouped by subject.
// Rule expressions name fields by their expr tags (geo.impossible_travel,
// ip.failures_10m); the doc tags generate docs/rules-reference.md, so an
// analyst never reads Go to write a rule. A field a signal could not compute
// keeps its zero value, and a companion flag (geo.known, password.status,
// state.available) says so.
type Env struct {
	Attempt  AttemptEnv  `expr:"attempt" json:"attempt" doc:"The attempt as received, normalised."`
	User     UserEnv     `expr:"user" json:"user" doc:"The user's baseline, learned from completed logins only."`
	Device   DeviceEnv   `expr:"device" json:"device" doc:"Device and browser novelty."`
	Geo      GeoEnv      `expr:"geo" json:"geo" doc:"Location novelty and velocity since the last completed login."`
	IP       IPEnv       `expr:"ip" json:"ip" doc:"The source address: its class, reputation and attack windows (an IPv6 address's windows are its /64's, which one host rotates through at will)."`
	Subnet   SubnetEnv   `expr:"subnet" json:"subnet" doc:"Attack windows for the address's /24 (IPv4) or /48 (IPv6)."`
	ASN      ASNEnv      `expr:"asn" json:"asn" doc:"The address's autonomous system and its attack windows."`
	Account  AccountEnv  `expr:"account" json:"account" doc:"Failures against this account from all addresses."`
	Password PasswordEnv `expr:"password" json:"password" doc:"The typed password, known only by its SHA-1: breach status and spraying."`
	Tenant   TenantEnv   `expr:"tenant" json:"tenant" doc:"Tenant-wide traffic: the failure rate against its own baseline."`
	State    StateEnv    `expr:"state" json:"state" doc:"Whether stateful signals could be computed."`
	RBA      RBAEnv      `expr:"rba" json:"rba" doc:"The statistical risk score (Freeman et al., NDSS 2016)."`
}

// AttemptEnv is the attempt itself.
type AttemptEnv struct {
	Tenant     string            `expr:"tenant" json:"tenant" doc:"Tenant, \"default\" when the caller gave none."`
	UserID     string            `expr:"user_id" json:"user_id" doc:"Stable account id; empty when the username matched no account."`
	Username   string            `expr:"username" json:"username" doc:"Username as typed, trimmed, lower-cased and NFKC-normalised (fullwidth letters become plain ones), without invisible characters (zero-width spaces and joiners, soft hyphens, bidi controls, variation selectors)."`
	IP         string            `expr:"ip" json:"ip" doc:"Source address as given."`
	UserAgent  string            `expr:"user_agent" json:"user_agent" doc:"User-Agent header as given."`
	Channel    string            `expr:"channel" json:"channel" doc:"Channel (web, mobile, api, ...) as given."`
	Result     string            `expr:"result" json:"result" doc:"unknown, password_ok, password_bad or no_such_user."`
	Failed     bool              `expr:"failed" json:"failed" doc:"The attempt is already known to have failed (password_bad or no_such_user)."`
	HasUser    bool              `expr:"has_user" json:"has_user" doc:"user_id is set."`
	Hour       int               `expr:"hour" json:"hour" doc:"Hour of day of the attempt, UTC, 0-23."`
	Weekday    int               `expr:"weekday" json:"weekday" doc:"Day of week of the attempt, UTC, 0 = Sunday."`
	Attributes map[string]string `expr:"attributes" json:"attributes,omitempty" doc:"Custom fields sent by the caller, e.g. attempt.attributes[\"app\"]."`
}

// UserEnv is the user's learned baseline.
type UserEnv struct {
	Known        bool    `expr:"known" json:"known" doc:"The user has at least one completed login in the baseline."`
	Logins       int     `expr:"logins" json:"logins" doc:"Completed logins learned."`
	AgeDays      float64 `expr:"age_days" json:"age_days" doc:"Days since the first completed login."`
	DaysSince    float64 `expr:"days_since_last" json:"days_since_last" doc:"Days since the last completed login."`
	HourUnusual  bool    `expr:"hour_unusual" json:"hour_unusual" doc:"The hour (UTC, with its neighbours) holds under 5% of the user's logins; needs 10 logins of history."`
	HourShare    float64 `expr:"hour_share" json:"hour_share" doc:"Share of the user's logins in this hour and its two neighbours, 0-1."`
	HoursLearned bool    `expr:"hours_learned" json:"hours_learned" doc:"Enough history (10 logins) to judge the hour."`
}

// DeviceEnv is device and browser novelty.
type DeviceEnv struct {
	IDPresent bool   `expr:"id_present" json:"id_present" doc:"The attempt carried a device_id."`
	Known     bool   `expr:"known" json:"known" doc:"device_id was seen in a completed login of this user."`
	New       bool   `expr:"new" json:"new" doc:"device_id present, user known, and the device never seen in a completed login."`
	Devices   int    `expr:"devices" json:"devices" doc:"Devices in the user's baseline."`
	Family    string `expr:"family" json:"family" doc:"User-agent family: browser/os, e.g. \"chrome/windows\"; empty when no user agent."`
	Browser   string `expr:"browser" json:"browser" doc:"Browser or client: chrome, firefox, safari, edge, opera, samsung, curl, python, okhttp, other."`
	OS        string `expr:"os" json:"os" doc:"Operating system: windows, macos, ios, android, linux, chromeos, other."`
	Type      string `expr:"type" json:"type" doc:"desktop, mobile, tablet, bot or unknown."`
	Bot       bool   `expr:"bot" json:"bot" doc:"The user agent is a script, library or headless browser."`
	FamilyNew bool   `expr:"family_new" json:"family_new" doc:"User known, user agent present, and its family never seen in a completed login."`
	Version   int    `expr:"version" json:"version" doc:"The browser's major version (Chrome/142 → 142, Safari's Version/26.2 → 26); 0 when unknown."`
	// VersionBehind compares with the user's history: a browser string
	// copied from a phishing page's log weeks ago is older than what the
	// victim's browsers now run.
	VersionBehind int `expr:"version_behind" json:"version_behind" doc:"How many major versions older the browser is than the newest of the same family (browser/os) this user completed a login with; 0 when not older or unknown."`
	Outdated      int `expr:"outdated" json:"outdated" doc:"How many major versions older the browser is than the newest of that browser among the tenant's completed logins (learned by this node since it started); 0 when current or unknown. Chrome, Edge and Firefox release every four weeks: 12 is about a year behind, where stuffing kits' browser strings are and few people's browsers."`
}

// GeoEnv is where the attempt comes from and how that compares to the last
// completed login.
type GeoEnv struct {
	Known            bool    `expr:"known" json:"known" doc:"A location is known for the address (from a GeoIP database or the attempt's geo hint)."`
	Source           string  `expr:"source" json:"source" doc:"geoip, hint or none."`
	Country          string  `expr:"country" json:"country" doc:"ISO 3166-1 alpha-2 country code, upper case; empty when unknown."`
	Subdivision      string  `expr:"subdivision" json:"subdivision" doc:"First-level subdivision (state, region), when known: its ISO 3166-2 code from GeoIP2 databases (\"IDF\"), its name from DB-IP Lite flat files."`
	City             string  `expr:"city" json:"city" doc:"City name in English, when known."`
	Lat              float64 `expr:"lat" json:"lat" doc:"Latitude of the fix."`
	Lon              float64 `expr:"lon" json:"lon" doc:"Longitude of the fix."`
	HasCoordinates   bool    `expr:"has_coordinates" json:"has_coordinates" doc:"lat and lon are meaningful: the fix is city- or region-level. A country-only fix has none (a country's centroid says nothing about distance)."`
	AccuracyKM       float64 `expr:"accuracy_km" json:"accuracy_km" doc:"Radius of uncertainty of the fix in km: the GeoIP database's accuracy radius (100 when it gives none), 50 for a geo hint."`
	NewCountry       bool    `expr:"new_country" json:"new_country" doc:"Country known, user known, and the country never seen in a completed login."`
	NewCity          bool    `expr:"new_city" json:"new_city" doc:"City known, user known, and the city never seen in a completed login."`
	PreviousCountry  string  `expr:"previous_country" json:"previous_country" doc:"Country of the last completed login."`
	VelocityKnown    bool    `expr:"velocity_known" json:"velocity_known" doc:"Both this fix and the last completed login's have coordinates, so distance and speed are meaningful; or the last login had none and travel from the last located login before it is impossible."`
	DistanceKM       float64 `expr:"distance_km" json:"distance_km" doc:"Great-circle distance from the last completed login, km."`
	HoursSince       float64 `expr:"hours_since_last" json:"hours_since_last" doc:"Hours since the last completed login; for an attempt dated before it (an event that arrived late, an identity server whose clock is behind), the hours before it."`
	SpeedKMH         float64 `expr:"speed_kmh" json:"speed_kmh" doc:"Speed needed to cover distance_km since the last completed login, after subtracting both fixes' accuracy radii (each at least 50 km), km/h."`
	ImpossibleTravel bool    `expr:"impossible_travel" json:"impossible_travel" doc:"The fixes' uncertainty circles (each of at least 50 km: a metro area's networks are placed tens of kilometres apart) do not overlap and the gap between them could not be covered in the time: speed_kmh exceeds the configured limit (default 1000 km/h, faster than a commercial flight), or the time is shorter than the fastest trip door to door (the gap at 300 km/h on the ground, or an hour plus the gap at the limit by air). When the last login had no coordinates, measured from the last located login before it (within a day)."`
	CountryDaysSince float64 `expr:"country_days_since" json:"country_days_since" doc:"Days since this user's last completed login from this country; 0 when the country is new or unknown. A stolen session replayed from a country the victim once visited shows days here, a traveller still on the trip hours."`
}

// NetWindows are attack windows kept for an address, a subnet or an ASN.
// Counts include the attempt being scored.
type NetWindows struct {
	Failures10m  int `expr:"failures_10m" json:"failures_10m" doc:"Failed logins in the last 10 minutes."`
	Failures1h   int `expr:"failures_1h" json:"failures_1h" doc:"Failed logins in the last hour."`
	Failures24h  int `expr:"failures_24h" json:"failures_24h" doc:"Failed logins in the last 24 hours."`
	Usernames10m int `expr:"usernames_10m" json:"usernames_10m" doc:"Distinct usernames tried in the last 10 minutes."`
	Usernames1h  int `expr:"usernames_1h" json:"usernames_1h" doc:"Distinct usernames tried in the last hour."`
	Usernames24h int `expr:"usernames_24h" json:"usernames_24h" doc:"Distinct usernames tried in the last 24 hours."`
}

// IPEnv describes the source address.
type IPEnv struct {
	NetWindows
	Version        int      `expr:"version" json:"version" doc:"4 or 6."`
	Class          string   `expr:"class" json:"class" doc:"public, private, loopback, link_local, cgnat or reserved."`
	Public         bool     `expr:"public" json:"public" doc:"The address is globally routable (class public)."`
	Lists          []string `expr:"lists" json:"lists,omitempty" doc:"Names of the configured IP lists (--ip-list NAME=FILE) that contain the address, public or not (a corporate VPN in 10.0.0.0/8): \"corp_vpn\" in ip.lists. The default rules deny lists named deny and exempt lists named allow from the anonymity rules."`
	AnonymousKnown bool     `expr:"anonymous_known" json:"anonymous_known" doc:"An Anonymous-IP database or Tor list was consulted."`
	Anonymous      bool     `expr:"anonymous" json:"anonymous" doc:"Any of vpn, tor, proxy or hosting."`
	VPN            bool     `expr:"vpn" json:"vpn" doc:"Anonymous VPN exit (Anonymous-IP database)."`
	Tor            bool     `expr:"tor" json:"tor" doc:"Tor exit node (Anonymous-IP database or --tor-exits list)."`
	Proxy          bool     `expr:"proxy" json:"proxy" doc:"Public or residential proxy (Anonymous-IP database)."`
	Hosting        bool     `expr:"hosting" json:"hosting" doc:"Hosting or datacenter address (Anonymous-IP database or hosting ASN)."`
	NewForUser     bool     `expr:"new_for_user" json:"new_for_user" doc:"User known and this address's subnet (/24 or /48) never seen in a completed login."`
	// Shared is what tells an office from a botnet: both show many
	// accounts from one address, but an office's people mostly type
	// their own password right.
	Shared bool `expr:"shared" json:"shared" doc:"A shared address: at least 10 distinct usernames in the last 24 hours and failures no more than a fifth of them (an office, campus or mobile carrier's NAT; a stuffing bot fails nearly every time). The default rules let no address or subnet burst deny a login on a shared one, and never a known device's."`
}

// SubnetEnv is the address's /24 or /48.
type SubnetEnv struct {
	NetWindows
	Prefix string `expr:"prefix" json:"prefix" doc:"The /24 (IPv4) or /48 (IPv6) containing the address."`
	Shared bool   `expr:"shared" json:"shared" doc:"Many accounts used this subnet in the last 24 hours and few of them failed, as ip.shared: an office's, campus's or mobile carrier's NAT range."`
}

// ASNEnv is the address's autonomous system.
type ASNEnv struct {
	NetWindows
	Known   bool   `expr:"known" json:"known" doc:"An ASN database answered for the address."`
	Number  int    `expr:"number" json:"number" doc:"Autonomous system number; 0 when unknown."`
	Org     string `expr:"org" json:"org" doc:"Autonomous system organisation."`
	Hosting bool   `expr:"hosting" json:"hosting" doc:"The ASN is a hosting or datacenter network: on the built-in list of cloud and hosting ASNs or in --hosting-asns."`
	New     bool   `expr:"new" json:"new" doc:"ASN known, user known, and the ASN never seen in a completed login."`
}

// AccountEnv counts failures against the account from every address.
type AccountEnv struct {
	Failures1h  int `expr:"failures_1h" json:"failures_1h" doc:"Failed logins for this account in the last hour, all addresses."`
	Failures24h int `expr:"failures_24h" json:"failures_24h" doc:"... in the last 24 hours."`
	Failures7d  int `expr:"failures_7d" json:"failures_7d" doc:"... in the last 7 days (slow brute force)."`
}

// PasswordEnv is what can be said about the typed password from its SHA-1.
type PasswordEnv struct {
	Present     bool   `expr:"present" json:"present" doc:"The attempt carried password_sha1."`
	Status      string `expr:"status" json:"status" doc:"breached, clean or unknown (no hash, or no breached-password filter)."`
	Breached    bool   `expr:"breached" json:"breached" doc:"The hash is in the breached-password filter (status breached)."`
	Tier        int    `expr:"tier" json:"tier" doc:"Prevalence tier of a breached password when the filter has tiers, higher is more common; 0 otherwise."`
	Accounts1h  int    `expr:"accounts_1h" json:"accounts_1h" doc:"Distinct accounts tried with this password in the last hour (spraying)."`
	Accounts24h int    `expr:"accounts_24h" json:"accounts_24h" doc:"... in the last 24 hours."`
	Accounts7d  int    `expr:"accounts_7d" json:"accounts_7d" doc:"... in the last 7 days."`
}

// TenantEnv is tenant-wide traffic.
type TenantEnv struct {
	Attempts10m    int     `expr:"attempts_10m" json:"attempts_10m" doc:"Attempts in the tenant in the last 10 minutes."`
	Failures10m    int     `expr:"failures_10m" json:"failures_10m" doc:"Failed logins in the tenant in the last 10 minutes."`
	FailureRate10m float64 `expr:"failure_rate_10m" json:"failure_rate_10m" doc:"failures_10m / attempts_10m."`
	Attempts1h     int     `expr:"attempts_1h" json:"attempts_1h" doc:"Attempts in the tenant in the last hour."`
	Failures1h     int     `expr:"failures_1h" json:"failures_1h" doc:"Failed logins in the tenant in the last hour."`
	FailureRate1h  float64 `expr:"failure_rate_1h" json:"failure_rate_1h" doc:"failures_1h / attempts_1h: a small tenant's slow stuffing wave shows here before it fills 10 minutes."`
	FailureRate24h float64 `expr:"failure_rate_24h" json:"failure_rate_24h" doc:"The same over 24 hours: the baseline."`
	FailureSurge   float64 `expr:"failure_surge" json:"failure_surge" doc:"failure_rate_10m divided by the failure rate of the 24 hours before those 10 minutes (floored at 1%); above 3 with enough attempts suggests a stuffing wave."`
}

// StateEnv says whether the store answered.
type StateEnv struct {
	Available bool `expr:"available" json:"available" doc:"The store answered in time; when false every baseline and window field is zero and should not be trusted."`
}

// RBAEnv is the statistical risk-based-authentication score.
type RBAEnv struct {
	Available bool    `expr:"available" json:"available" doc:"The score could be computed (the user has history)."`
	Score     float64 `expr:"score" json:"score" doc:"log10 of how much likelier the attempt's features (ASN, network within it, country, browser, OS, device, hour) are for an attacker than for this user: at or below 0 the attempt looks like the user; each +1 is ten times riskier. The sum of the terms below. 0 when not available."`
	Targeted  float64 `expr:"targeted" json:"targeted" doc:"The score against a targeted attacker, who copies what can be copied (a residential proxy on the victim's ISP in the victim's city, the victim's browser string): the sum of the terms an attacker cannot copy, network (within the ASN), device and hour. From 0.75 on a new device and a new subnet, the default rules step up (new-device-unlike-user): the login is unlike the user in ways a careful attacker cannot hide."`
	ASN       float64 `expr:"asn" json:"asn" doc:"The ASN's term of score: its population share against the user's."`
	Network   float64 `expr:"network" json:"network" doc:"The network's (/24 or /48) term of score, given the ASN: a subnet never seen on an ASN where the user keeps their subnet (a home line) weighs; one on a mobile carrier, which changes it every session, hardly does."`
	Country   float64 `expr:"country" json:"country" doc:"The country's term of score."`
	Browser   float64 `expr:"browser" json:"browser" doc:"The browser's term of score."`
	OS        float64 `expr:"os" json:"os" doc:"The operating system's term of score."`
	Device    float64 `expr:"device" json:"device" doc:"The device's term of score: a known device vouches (about -1), a new one or none weighs by how rarely this user brings new devices."`
	Hour      float64 `expr:"hour" json:"hour" doc:"The hour's term of score: the user's share of logins in this hour and its neighbours against any hour."`
}
