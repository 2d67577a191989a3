package wire

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/riskgate/riskgate/engine"
)

// DecodeQuick decodes data, a whole message, into j in one pass over the
// bytes, when data is an attempt as clients ordinarily write it: one JSON
// object whose keys are the documented names exactly, each at most once,
// with string values (or null), geo an object of country, lat and lon,
// attributes an object of strings, valid UTF-8 throughout, nothing after
// the object but white space. It returns false for anything else, leaving
// j in an unspecified state: the caller then decodes the same bytes with
// the checked path (CheckJSON, then encoding/json), which accepts or
// refuses them and names what is wrong. So an error is never produced here
// and the strictness is the checked path's; on true, j holds exactly what
// the checked path would have decoded (FuzzDecodeQuick compares them).
//
// It exists because the checked path reads the body twice through
// encoding/json's reflection and token API, which was a quarter of the
// CPU of an HTTP Score call in profiles (issue 15).
func (j *AttemptJSON) DecodeQuick(data []byte) bool {
	*j = AttemptJSON{}
	p := quick{b: data}
	p.space()
	if !p.eat('{') {
		return false
	}
	var seen uint16
	if !p.members(func(key []byte) bool {
		var f *string
		var bit uint16
		switch string(key) { // no allocation: the compiler compares in place
		case "tenant":
			f, bit = &j.Tenant, 1<<0
		case "attempt_id":
			f, bit = &j.AttemptID, 1<<1
		case "time":
			f, bit = &j.Time, 1<<2
		case "user_id":
			f, bit = &j.UserID, 1<<3
		case "username":
			f, bit = &j.Username, 1<<4
		case "ip":
			f, bit = &j.IP, 1<<5
		case "user_agent":
			f, bit = &j.UserAgent, 1<<6
		case "device_id":
			f, bit = &j.DeviceID, 1<<7
		case "password_sha1":
			f, bit = &j.PasswordSHA1, 1<<8
		case "result":
			f, bit = &j.Result, 1<<9
		case "channel":
			f, bit = &j.Channel, 1<<10
		case "geo":
			bit = 1 << 11
		case "attributes":
			bit = 1 << 12
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		switch {
		case f != nil:
			return p.stringOrNull(f)
		case bit == 1<<11:
			return p.geo(&j.Geo)
		default:
			return p.attributes(&j.Attributes)
		}
	}) {
		return false
	}
	p.space()
	return p.i == len(p.b)
}

// members reads the members of an object whose '{' was just read, up to
// and with its '}': each plain key (see plainKey), then value reads the
// member's value at the position and says whether it is one DecodeQuick
// takes.
func (p *quick) members(value func(key []byte) bool) bool {
	p.space()
	if p.eat('}') {
		return true
	}
	for {
		p.space()
		key, ok := p.plainKey()
		if !ok {
			return false
		}
		p.space()
		if !p.eat(':') {
			return false
		}
		p.space()
		if !value(key) {
			return false
		}
		p.space()
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

// quick is DecodeQuick's position in its input.
type quick struct {
	b []byte
	i int
}

func (p *quick) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *quick) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *quick) null() bool {
	if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// scanString reads a JSON string at the position: its bytes with the
// quotes, and whether it holds an escape. Control characters and invalid
// UTF-8 are not plain: false.
func (p *quick) scanString() (raw []byte, escaped, ok bool) {
	if !p.eat('"') {
		return nil, false, false
	}
	start := p.i - 1
	ascii := true
	for p.i < len(p.b) {
		if p.i += plainPrefix(p.b[p.i:]); p.i == len(p.b) {
			break
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			raw = p.b[start:p.i]
			if !ascii && !utf8.Valid(raw) {
				return nil, false, false
			}
			return raw, escaped, true
		case c == '\\':
			escaped = true
			p.i += 2 // the escaped byte cannot end the string
			continue
		case c < 0x20:
			return nil, false, false
		case c >= 0x80:
			ascii = false
		}
		p.i++
	}
	return nil, false, false
}

// plainKey reads an object key without escapes: keys of riskgate's own
// objects are plain lower-case names, and anything else is the checked
// path's to judge.
func (p *quick) plainKey() ([]byte, bool) {
	raw, escaped, ok := p.scanString()
	if !ok || escaped {
		return nil, false
	}
	return raw[1 : len(raw)-1], true
}

// str reads a string value; escapes are undone by encoding/json itself, so
// that they mean exactly what they mean on the checked path.
func (p *quick) str() (string, bool) {
	raw, escaped, ok := p.scanString()
	if !ok {
		return "", false
	}
	if !escaped {
		return string(raw[1 : len(raw)-1]), true
	}
	if loneSurrogate(raw) {
		return "", false // the checked path names the field
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// stringOrNull reads a string into f; null leaves f as it is, as
// encoding/json does.
func (p *quick) stringOrNull(f *string) bool {
	if p.null() {
		return true
	}
	s, ok := p.str()
	*f = s
	return ok
}

// geoHint holds a hint and its coordinates in one allocation.
type geoHint struct {
	g        engine.GeoHint
	lat, lon float64
}

func (p *quick) geo(dst **engine.GeoHint) bool {
	if p.null() {
		*dst = nil
		return true
	}
	if !p.eat('{') {
		return false
	}
	h := &geoHint{}
	*dst = &h.g
	var seen uint8
	return p.members(func(key []byte) bool {
		var bit uint8
		ok := false
		switch string(key) {
		case "country":
			bit = 1
			ok = p.stringOrNull(&h.g.Country)
		case "lat":
			bit = 2
			ok = p.coordinate(&h.g.Lat, &h.lat)
		case "lon":
			bit = 4
			ok = p.coordinate(&h.g.Lon, &h.lon)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// coordinate reads a number into *v and points f at it; null makes f nil.
func (p *quick) coordinate(f **float64, v *float64) bool {
	if p.null() {
		*f = nil
		return true
	}
	n, ok := p.number()
	if !ok {
		return false
	}
	x, err := strconv.ParseFloat(string(n), 64) // short: converted on the stack
	if err != nil {
		return false
	}
	*v = x
	*f = v
	return true
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *quick) number() ([]byte, bool) {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.digit19():
		p.digits()
	default:
		return nil, false
	}
	if p.eat('.') {
		if p.digits() == 0 {
			return nil, false
		}
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	// A number must end where a value may: a letter or digit after it
	// ("1x", "01") is the checked path's syntax error.
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r', ',', '}':
		default:
			return nil, false
		}
	}
	return p.b[start:p.i], true
}

func (p *quick) digit19() bool {
	if p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9' {
		p.i++
		return true
	}
	return false
}

func (p *quick) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// attributes reads an object of strings; a key given twice, null values
// and values of other kinds are the checked path's.
func (p *quick) attributes(dst *map[string]string) bool {
	if p.null() {
		*dst = nil
		return true
	}
	if !p.eat('{') {
		return false
	}
	m := map[string]string{}
	*dst = m
	p.space()
	if p.eat('}') {
		return true
	}
	for {
		p.space()
		k, ok := p.str()
		if !ok {
			return false
		}
		p.space()
		if !p.eat(':') {
			return false
		}
		p.space()
		v, ok := p.str()
		if !ok {
			return false
		}
		if _, dup := m[k]; dup {
			return false
		}
		m[k] = v
		p.space()
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}
