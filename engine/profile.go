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
		p.Devices = addSeenBytes(p.Devices, l.Device[:], t, MaxDevices)
	}
	if l.Agent != "" {
		p.Agents = addSeen(p.Agents, l.Agent, t, MaxAgents)
	}
	// The values below are built in a stack buffer and only become strings
	// when new: learning a known place allocates nothing.
	var buf [80]byte
	if l.Country != "" {
		p.Countries = addSeen(p.Countries, l.Country, t, MaxCountries)
		if l.City != "" {
			b := append(append(append(buf[:0], l.Country...), '/'), l.City...)
			p.Cities = addSeenBytes(p.Cities, b, t, MaxCities)
		}
	}
	if l.ASN != 0 {
		p.ASNs = addSeenBytes(p.ASNs, strconv.AppendUint(buf[:0], uint64(l.ASN), 10), t, MaxASNs)
	}
	if l.Subnet.IsValid() {
		p.Networks = addSeenBytes(p.Networks, l.Subnet.AppendTo(buf[:0]), t, MaxNetworks)
	}
	if t >= p.Last.Time {
		p.Last = LastLogin{Time: t, IP: l.IP, Country: l.Country, City: l.City}
		if l.HasLocation {
			// City precision: two decimals is about a kilometre, finer than
			// any GeoIP fix and coarse enough not to pinpoint a home.
			p.Last.HasLocation = true
			p.Last.Lat = math.Round(l.Lat*100) / 100
			p.Last.Lon = math.Round(l.Lon*100) / 100
			p.Last.AccuracyKM = l.AccuracyKM
		}
	}
}

// addSeenBytes is addSeen for a value in a scratch buffer.
func addSeenBytes(set []Seen, v []byte, t int64, max int) []Seen {
	for i := range set {
		if set[i].Value == string(v) {
			return touchSeen(set, i, t)
		}
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
	*p = *q
	p.Devices = append(devices[:0], q.Devices...)
	p.Agents = append(agents[:0], q.Agents...)
	p.Countries = append(countries[:0], q.Countries...)
	p.Cities = append(cities[:0], q.Cities...)
	p.ASNs = append(asns[:0], q.ASNs...)
	p.Networks = append(networks[:0], q.Networks...)
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
	}
}
