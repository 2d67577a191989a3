package engine

import (
	"math"
	"strconv"
)

// Caps on the profile sets. They bound a profile to a few kilobytes however
// long the user lives; a user with more devices than this keeps the ones
// used most.
const (
	MaxDevices   = 16
	MaxAgents    = 8
	MaxCountries = 16
	MaxCities    = 32
	MaxASNs      = 16
	MaxNetworks  = 32
)

// Learn adds a completed login to the baseline. It is the only way a
// profile grows, and the engine calls it only for completed logins.
func (p *Profile) Learn(l *Login) {
	t := l.Time.Unix()
	if p.Logins < math.MaxUint32 {
		p.Logins++
	}
	if p.FirstSeen == 0 || t < p.FirstSeen {
		p.FirstSeen = t
	}
	if t > p.LastSeen {
		p.LastSeen = t
	}
	h := l.Time.UTC().Hour()
	if p.Hours[h] < math.MaxUint32 {
		p.Hours[h]++
	}
	if !l.Device.IsZero() {
		if !p.HasDevice(l.Device) && p.NewDevices < math.MaxUint32 {
			p.NewDevices++
		}
		p.Devices = addSeenBytes(p.Devices, l.Device[:], t, MaxDevices)
	} else if p.NoDevice < math.MaxUint32 {
		p.NoDevice++
	}
	if l.Agent != "" {
		p.Agents = addSeen(p.Agents, l.Agent, t, MaxAgents)
		if l.AgentVersion != 0 {
			p.AgentVersions = newestVersion(p.AgentVersions, l.Agent, l.AgentVersion, t)
		}
	}
	// The values below are built in stack buffers, each once, and only
	// become strings when new: learning a known place allocates nothing.
	var asnBuf [20]byte
	var netBuf, cityBuf [80]byte
	var asn, subnet []byte
	if l.ASN != 0 {
		asn = strconv.AppendUint(asnBuf[:0], uint64(l.ASN), 10)
	}
	if l.Subnet.IsValid() {
		subnet = appendSubnet(netBuf[:0], l.Subnet)
	}
	if asn != nil && subnet != nil && seenAt(p.Networks, subnet) < 0 {
		p.ASNNetworks = addSeenBytes(p.ASNNetworks, asn, t, MaxASNs)
	}
	if l.Country != "" {
		p.Countries = addSeen(p.Countries, l.Country, t, MaxCountries)
		if l.City != "" {
			b := append(append(append(cityBuf[:0], l.Country...), '/'), l.City...)
			p.Cities = addSeenBytes(p.Cities, b, t, MaxCities)
		}
	}
	if asn != nil {
		p.ASNs = addSeenBytes(p.ASNs, asn, t, MaxASNs)
	}
	if subnet != nil {
		p.Networks = addSeenBytes(p.Networks, subnet, t, MaxNetworks)
	}
	if t >= p.Last.Time {
		prev := p.Last
		p.Last = LastLogin{Time: t, IP: l.IP, Country: l.Country, City: l.City}
		switch {
		case l.HasLocation:
			// City precision: two decimals is about a kilometre, finer than
			// any GeoIP fix and coarse enough not to pinpoint a home.
			p.Last.HasLocation = true
			p.Last.Lat = math.Round(l.Lat*100) / 100
			p.Last.Lon = math.Round(l.Lon*100) / 100
			p.Last.AccuracyKM = l.AccuracyKM
		case prev.HasLocation:
			// A login located only to its country (a phone on a
			// country-level mobile block) says little about where the user
			// is; the last located login before it still does, so its fix
			// is kept with its own time. A hijack from another continent
			// 40 minutes after a country-only login at home stays
			// measurable, and a roaming phone, whose last located login
			// was the hotel abroad, stays consistent. Past a day any place
			// on Earth is reachable and the fix bounds nothing.
			fix := prev.fixTime()
			if t-fix < maxCarry {
				p.Last.HasLocation = true
				p.Last.Lat, p.Last.Lon, p.Last.AccuracyKM = prev.Lat, prev.Lon, prev.AccuracyKM
				p.Last.FixTime = fix
			}
		}
	}
}

// maxCarry is how long, in seconds, a located login's fix outlives the
// logins without coordinates that follow it: a day, by when a flight can
// reach anywhere.
const maxCarry = 24 * 3600

// seenAt is the index of v, a value's text in a stack buffer, in set, or
// -1.
func seenAt(set []Seen, v []byte) int {
	for i := range set {
		if set[i].Value == string(v) {
			return i
		}
	}
	return -1
}

// newestVersion raises family's version in set to v; the entry's Last is
// when that version was first seen.
func newestVersion(set []Seen, family string, v uint16, t int64) []Seen {
	for i := range set {
		if set[i].Value == family {
			if uint32(v) > set[i].Count {
				set[i].Count, set[i].Last = uint32(v), t
			}
			return set
		}
	}
	if len(set) < MaxAgents {
		return append(set, Seen{Value: family, Count: uint32(v), Last: t})
	}
	// Full: the family seen longest ago makes room.
	victim := 0
	for i := 1; i < len(set); i++ {
		if set[i].Last < set[victim].Last {
			victim = i
		}
	}
	set[victim] = Seen{Value: family, Count: uint32(v), Last: t}
	return set
}

// AgentVersion returns the newest browser major version the user completed
// a login with in family, 0 when none is known.
func (p *Profile) AgentVersion(family string) uint16 {
	for i := range p.AgentVersions {
		if p.AgentVersions[i].Value == family {
			return uint16(min(p.AgentVersions[i].Count, math.MaxUint16))
		}
	}
	return 0
}

// addSeenBytes is addSeen for a value in a scratch buffer.
func addSeenBytes(set []Seen, v []byte, t int64, max int) []Seen {
	if i := seenAt(set, v); i >= 0 {
		return touchSeen(set, i, t)
	}
	return addSeen(set, string(v), t, max)
}

func touchSeen(set []Seen, i int, t int64) []Seen {
	if set[i].Count < math.MaxUint32 {
		set[i].Count++
	}
	if t > set[i].Last {
		set[i].Last = t
	}
	return set
}

func addSeen(set []Seen, v string, t int64, max int) []Seen {
	for i := range set {
		if set[i].Value == v {
			return touchSeen(set, i, t)
		}
	}
	if len(set) < max {
		return append(set, Seen{Value: v, Count: 1, Last: t})
	}
	// Full: replace the entry with the fewest logins, the oldest among equals.
	victim := 0
	for i := 1; i < len(set); i++ {
		if set[i].Count < set[victim].Count || set[i].Count == set[victim].Count && set[i].Last < set[victim].Last {
			victim = i
		}
	}
	set[victim] = Seen{Value: v, Count: 1, Last: t}
	return set
}

// HasDevice reports whether the keyed device is in the baseline.
func (p *Profile) HasDevice(k Key) bool {
	for i := range p.Devices {
		if p.Devices[i].Value == string(k[:]) {
			return true
		}
	}
	return false
}

// Has reports whether v is in set.
func Has(set []Seen, v string) bool {
	for i := range set {
		if set[i].Value == v {
			return true
		}
	}
	return false
}

// HasCity reports whether country/city is in the baseline, without building
// the joined string.
func (p *Profile) HasCity(country, city string) bool {
	n := len(country) + 1 + len(city)
	for i := range p.Cities {
		v := p.Cities[i].Value
		if len(v) == n && v[:len(country)] == country && v[len(country)] == '/' && v[len(country)+1:] == city {
			return true
		}
	}
	return false
}

// HasASN reports whether the ASN is in the baseline.
func (p *Profile) HasASN(asn uint32) bool {
	var buf [10]byte
	b := strconv.AppendUint(buf[:0], uint64(asn), 10)
	for i := range p.ASNs {
		if p.ASNs[i].Value == string(b) {
			return true
		}
	}
	return false
}

// CopyFrom makes p a deep copy of q that reuses p's slices, so a store can
// hand out a profile without sharing its own memory and without allocating
// in the steady state.
func (p *Profile) CopyFrom(q *Profile) {
	devices, agents, countries, cities, asns, networks := p.Devices, p.Agents, p.Countries, p.Cities, p.ASNs, p.Networks
	asnNets, versions := p.ASNNetworks, p.AgentVersions
	*p = *q
	p.Devices = append(devices[:0], q.Devices...)
	p.Agents = append(agents[:0], q.Agents...)
	p.Countries = append(countries[:0], q.Countries...)
	p.Cities = append(cities[:0], q.Cities...)
	p.ASNs = append(asns[:0], q.ASNs...)
	p.Networks = append(networks[:0], q.Networks...)
	p.ASNNetworks = append(asnNets[:0], q.ASNNetworks...)
	p.AgentVersions = append(versions[:0], q.AgentVersions...)
}

// Reset empties p, keeping its sets' capacity for reuse: a store decoding
// profiles into the same value allocates nothing in the steady state.
func (p *Profile) Reset() {
	old := *p
	p.reuse(&old)
}

// reuse empties p and gives it old's slice capacity.
func (p *Profile) reuse(old *Profile) {
	*p = Profile{
		Devices: old.Devices[:0], Agents: old.Agents[:0], Countries: old.Countries[:0],
		Cities: old.Cities[:0], ASNs: old.ASNs[:0], Networks: old.Networks[:0],
		ASNNetworks: old.ASNNetworks[:0], AgentVersions: old.AgentVersions[:0],
	}
}
