package engine

// prepare fills the input: address facts, enrichment, user agent.
func (e *Engine) prepare(s *scratch) {
	in := &s.in
	subnet := SubnetOf(s.n.addr)
	*in = Input{
		Attempt: &s.attempt, Tenant: s.n.tenant, Username: s.n.username, Addr: s.n.addr,
		Subnet: subnet, SubnetText: subnetText(subnet), Time: s.n.time, Password: s.n.password, HasPassword: s.n.hasPassword,
		Agent: e.agents.Parse(s.attempt.UserAgent),
	}
	en := &in.Enrichment
	en.Network.Class = Classify(s.n.addr)
	enrichers := e.opts.Enrichers
	if en.Network.Class != ClassPublic {
		enrichers = e.anyAddr
	}
	for _, x := range enrichers {
		if err := x.Enrich(s.n.addr, en); err != nil {
			e.failed(s, "enrich", enricherName(x), err)
		}
	}
	if !en.Location.Known {
		applyHint(s.attempt.Geo, &en.Location)
	}
}

// CityAccuracyKM is the uncertainty of a location found from an address
// at about city precision: what a CDN's location hint is given (CDNs
// geolocate from the address too), and the least that travel signals take
// of any fix (signals.Location).
const CityAccuracyKM = 50

func applyHint(g *GeoHint, l *Location) {
	if g == nil || g.Country == "" && g.Lat == nil {
		return
	}
	*l = Location{Known: true, Source: "hint", Country: CountryCode(g.Country)}
	if g.Lat != nil {
		l.HasCoordinates = true
		l.Lat, l.Lon = *g.Lat, *g.Lon
		l.AccuracyKM = CityAccuracyKM
	}
}

// CountryCode upper-cases a two-letter country code, without allocating
// when it already is upper case (every GeoIP database, most hints).
func CountryCode(s string) string {
	if len(s) == 2 && (s[0] >= 'a' && s[0] <= 'z' || s[1] >= 'a' && s[1] <= 'z') {
		b := []byte(s)
		for i := range b {
			if b[i] >= 'a' && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
		return string(b)
	}
	return s
}

// keys computes the keyed hashes of the attempt's identifiers.
func (e *Engine) keys(s *scratch) {
	k, t := e.opts.Keyer, s.n.tenant
	ks := s.keys
	if ks == nil {
		ks = k.pool.Get().(*keyScratch)
		s.keys = ks
	}
	if s.attempt.UserID != "" {
		s.ev.User = k.keyWith(ks, domainUser, t, s.attempt.UserID, nil)
		s.ev.Account = s.ev.User
	}
	if s.n.username != "" {
		s.ev.Username = k.keyWith(ks, domainUsername, t, s.n.username, nil)
		if s.ev.Account.IsZero() {
			s.ev.Account = s.ev.Username
		}
	}
	if s.facts != nil {
		s.ev.Password = s.facts.Key // already keyed, by the capture
	} else if s.n.hasPassword {
		s.ev.Password = k.keyWith(ks, domainPassword, t, "", s.n.password[:])
	}
	if s.attempt.DeviceID != "" {
		s.in.Device = k.keyWith(ks, domainDevice, t, s.attempt.DeviceID, nil)
	}
}

func (e *Engine) fillAttemptEnv(s *scratch) {
	a := &s.attempt
	utc := s.n.time.UTC()
	// The rest of the environment is zero: release clears it before the
	// scratch goes back to the pool, and a new scratch is zero. Clearing
	// it again here (900 bytes) cost every Score as much as filling it
	// (TestScratchEnvZeroWhenPooled).
	s.env.Attempt = AttemptEnv{
		Tenant: s.n.tenant, UserID: a.UserID, Username: s.n.username, IP: a.IP,
		UserAgent: a.UserAgent, Channel: a.Channel, Result: a.Result.String(),
		Failed: a.Result.Failed(), HasUser: a.UserID != "", Hour: utc.Hour(),
		Weekday: int(utc.Weekday()), Attributes: a.Attributes,
	}
	s.env.State = StateEnv{Available: s.in.StateAvailable}
}
