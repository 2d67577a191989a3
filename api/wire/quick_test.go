package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// quickSeeds are bodies for DecodeQuick: those it takes and those it must
// leave to the checked path.
var quickSeeds = []string{
	`{"tenant":"bench","user_id":"user-1","username":"user1@example.com","ip":"81.0.0.1","user_agent":"Mozilla/5.0 (X11)","device_id":"d-1","result":"password_ok","geo":{"country":"FR","lat":48.8566,"lon":2.3522},"channel":"web"}`,
	" {\n\t\"ip\" : \"81.2.69.1\" , \"attributes\" : { \"App\" : \"web\", \"app\": \"x\" } }\r\n",
	`{"ip":"81.2.69.1","username":"caf\u00e9 \"q\" \/ \ud83d\ude00 \\ud800"}`,
	`{"ip":"81.2.69.1","username":"café ☕"}`,
	`{"ip":null,"geo":null,"attributes":null}`,
	`{"geo":{"lat":null,"lon":-0,"country":null}}`,
	`{"geo":{"lat":-1.5e-3,"lon":1E+2}}`,
	`{"geo":{}, "attributes":{}}`,
	`{}`,
	`{"attributes":{"a\u0062":"c","ac":"d"}}`,
	`{"time":"2026-05-09T11:00:00Z","password_sha1":"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8","attempt_id":"a","result":"password_bad"}`,
	// Left to the checked path, which accepts or refuses them.
	`{"ip":"1","ip":"2"}`,
	`{"attributes":{"a\u0062":"c","ab":"d"}}`,
	`{"Ip":"1"}`,
	`{"\u0069p":"1"}`,
	`{"ip":"a` + "\xff" + `"}`,
	`{"ip":"a\ud800"}`, // half a surrogate pair: refused by the checked path
	`{"ip":"a` + "\x01" + `"}`,
	`{"ip":1}`,
	`{"ip":"1"} {}`,
	`{"ip":"1"}x`,
	`{"ip":"1",}`,
	`{"ip":"1"`,
	`{"geo":{"lat":01}}`,
	`{"geo":{"lat":1.}}`,
	`{"geo":{"lat":1e400}}`,
	`{"geo":{"lat":1,"lat":2}}`,
	`{"geo":{"Lat":1}}`,
	`{"geo":{"lat":"1"}}`,
	`{"geo":[]}`,
	`{"attributes":{"a":null}}`,
	`{"attributes":{"a":1}}`,
	`{"attributes":{"K":"a","K":"b"}}`,
	`{"user_id":"u\x"}`,
	`{"password":"x"}`,
	`null`,
	`[]`,
	``,
	`{"ip":"1"}` + "\x00",
}

// checkQuick fails when DecodeQuick takes data and the checked path does
// not decode it to the same value.
func checkQuick(t *testing.T, data []byte) bool {
	t.Helper()
	var quick AttemptJSON
	if !quick.DecodeQuick(data) {
		return false
	}
	var checked AttemptJSON
	if err := decodeJSON(data, &checked, "ip"); err != nil {
		t.Fatalf("%q: DecodeQuick took what the checked path refuses: %v", data, err)
	}
	if !reflect.DeepEqual(quick, checked) {
		t.Fatalf("%q:\nquick   %#v\nchecked %#v", data, quick, checked)
	}
	return true
}

// TestDecodeQuick: DecodeQuick decodes ordinary attempts, the load
// generator's among them, exactly as the checked path does, and leaves the
// rest to it.
func TestDecodeQuick(t *testing.T) {
	took := 0
	for _, s := range quickSeeds {
		if checkQuick(t, []byte(s)) {
			took++
		}
	}
	for i, s := range quickSeeds[:11] {
		if !checkQuick(t, []byte(s)) {
			t.Errorf("seed %d %q: not taken by DecodeQuick", i, s)
		}
	}
	if took != 11 {
		t.Errorf("DecodeQuick took %d seeds, want the first 11", took)
	}
	// Geo's coordinates are the hint's own, not shared between decodes.
	var a, b AttemptJSON
	a.DecodeQuick([]byte(`{"geo":{"lat":1,"lon":2}}`))
	b.DecodeQuick([]byte(`{"geo":{"lat":3,"lon":4}}`))
	if *a.Geo.Lat != 1 || *a.Geo.Lon != 2 || *b.Geo.Lat != 3 {
		t.Errorf("coordinates %v %v %v", *a.Geo.Lat, *a.Geo.Lon, *b.Geo.Lat)
	}
	if checkQuick(t, []byte(`{"user_id":"`+strings.Repeat("x", 300)+`"}`)) == false {
		t.Error("a long value is not taken")
	}
}

// FuzzDecodeQuick: whatever DecodeQuick takes, the checked path decodes to
// the same value.
func FuzzDecodeQuick(f *testing.F) {
	for _, s := range quickSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkQuick(t, data)
	})
}

// plainPrefixSimple is PlainPrefix byte by byte.
func plainPrefixSimple(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return i
		}
	}
	return len(s)
}

// TestPlainPrefix: the eight-at-a-time scan stops where the byte loop
// does, for every byte value at every position of a word and after it.
func TestPlainPrefix(t *testing.T) {
	for c := range 256 {
		for n := range 20 {
			for at := 0; at <= n; at++ {
				b := []byte(strings.Repeat("a", n))
				if at < n {
					b[at] = byte(c)
				}
				want := plainPrefixSimple(string(b))
				if got := PlainPrefix(string(b)); got != want {
					t.Fatalf("PlainPrefix(%q) = %d, want %d", b, got, want)
				}
				if got := plainPrefix(b); got != want {
					t.Fatalf("plainPrefix(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}

// FuzzPlainPrefix: as TestPlainPrefix, on any bytes.
func FuzzPlainPrefix(f *testing.F) {
	f.Add([]byte(`Mozilla/5.0 (X11; Linux x86_64) "q" \ é`))
	f.Add([]byte("0123456789abcdef\x1f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := plainPrefixSimple(string(b))
		if got := PlainPrefix(string(b)); got != want {
			t.Fatalf("PlainPrefix(%q) = %d, want %d", b, got, want)
		}
		if got := plainPrefix(b); got != want {
			t.Fatalf("plainPrefix(%q) = %d, want %d", b, got, want)
		}
	})
}

func TestLoneSurrogate(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		lone bool
	}{
		{`"plain"`, false},
		{`"\ud83d\ude00"`, false},      // a pair
		{`"\uD83D\uDE00"`, false},      // upper case
		{`"\u00e9\n\t\"\\"`, false},    // other escapes
		{`"\\ud800"`, false},           // a backslash, then "ud800"
		{`"\\\ud800"`, true},           // a backslash, then a lone high half
		{`"\ud800"`, true},             // high, at the end
		{`"\ud800x"`, true},            // high, then a character
		{`"\ud800\n"`, true},           // high, then another escape
		{`"\ud800\u0041"`, true},       // high, then not a low half
		{`"\ud800\ud800\udc00"`, true}, // two highs
		{`"\udc00"`, true},             // low alone
		{`"\ud83d\ude00\ude00"`, true}, // a pair, then a low
		{`"\u12"`, false},              // malformed: the decoder's to report
		{`, "k": "\udbff"`, true},      // as CheckJSON sees a token, separators and all
	} {
		if got := loneSurrogate([]byte(tc.raw)); got != tc.lone {
			t.Errorf("%s: %v, want %v", tc.raw, got, tc.lone)
		}
	}
}

// FuzzLoneSurrogate: for any JSON string encoding/json decodes, of valid
// UTF-8 without U+FFFD of its own, loneSurrogate is true exactly when the
// decoded string has a U+FFFD (encoding/json's replacement for half a
// pair).
func FuzzLoneSurrogate(f *testing.F) {
	for _, s := range []string{`\ud83d\ude00`, `\ud800`, `\\ud800`, `a\udc00b`, `\u00e9`, `\ud800\u0041`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		raw := []byte(`"` + body + `"`)
		var s string
		if json.Unmarshal(raw, &s) != nil || !utf8.ValidString(body) || strings.Contains(body, "\uFFFD") ||
			strings.Contains(strings.ToLower(body), `\ufffd`) {
			return
		}
		if got, want := loneSurrogate(raw), strings.ContainsRune(s, utf8.RuneError); got != want {
			t.Fatalf("%s: loneSurrogate %v, decoded %q", raw, got, s)
		}
	})
}
