package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// awkward are strings and floats that encoding/json writes in special
// ways: escapes, invalid UTF-8, U+2028, HTML characters (not escaped
// here), exponents, negative zero, values it refuses.
var (
	awkwardStrings = []string{"", "plain", `quote " back \ slash`, "ctl \x00\x01\x1f\x7f \b\f\n\r\t", "bad \xff\xfe utf-8 \xe2\x82",
		"sep \u2028 \u2029", "<b>&amp;</b>", "émoji 🙂 ok", strings.Repeat("long ", 60)}
	awkwardFloats = []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 123456789012345678901234.0,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 51.5074, -0.1278, 1.0 / 3,
		42, -7, 1e15 - 1, 1e15, -1e15 + 1, 1 << 53, 65}
)

// fillAwkward sets each field of v to a random value, zero about half
// the time, drawn from the awkward ones.
func fillAwkward(r *rand.Rand, v reflect.Value) {
	zero := r.IntN(2) == 0
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			t := time.Unix(r.Int64N(4e9), r.Int64N(1e9))
			switch r.IntN(4) {
			case 0:
				t = t.UTC()
			case 1:
				t = t.In(time.FixedZone("X", -(5*3600 + 30*60)))
			case 2:
				t = time.Unix(t.Unix(), 0).UTC() // no fraction
			}
			v.Set(reflect.ValueOf(t))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAwkward(r, v.Field(i))
			}
		}
	case reflect.Bool:
		v.SetBool(!zero)
	case reflect.Int, reflect.Int32, reflect.Int64:
		if !zero {
			v.SetInt(r.Int64N(1<<40) - 1<<39)
		}
	case reflect.Uint8, reflect.Uint32, reflect.Uint64:
		if !zero {
			v.SetUint(r.Uint64N(1 << 20))
		}
	case reflect.Float64:
		if !zero {
			v.SetFloat(awkwardFloats[r.IntN(len(awkwardFloats))])
		}
	case reflect.String:
		if !zero {
			v.SetString(awkwardStrings[r.IntN(len(awkwardStrings))])
		}
	case reflect.Slice:
		if zero {
			if r.IntN(2) == 0 {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // empty, not nil
			}
			return
		}
		n := 1 + r.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fillAwkward(r, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if zero {
			if r.IntN(2) == 0 {
				v.Set(reflect.ValueOf(map[string]string{}))
			}
			return
		}
		m := map[string]string{}
		for range 1 + r.IntN(12) { // past the sorter's stack array too
			m[awkwardStrings[r.IntN(len(awkwardStrings))]+string(rune('a'+r.IntN(26)))] = awkwardStrings[r.IntN(len(awkwardStrings))]
		}
		v.Set(reflect.ValueOf(m))
	}
}

// writeJSONReference is WriteJSON as it was before the generated encoder:
// encoding/json for everything.
func writeJSONReference(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
	}
	return buf.Bytes()
}

// TestDecisionJSON: a Score's body is byte for byte what encoding/json
// wrote, for decisions whose every field is random (awkward strings and
// floats, nil and empty slices and maps, times in zones), for the empty
// decision, for one without signals (omit_signals), and for values
// encoding/json refuses (the same 500 body).
func TestDecisionJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 3))
	cases := []engine.Decision{{}, {Time: time.Unix(1764800000, 0).UTC()}}
	for range 3000 {
		var d engine.Decision
		fillAwkward(r, reflect.ValueOf(&d).Elem())
		cases = append(cases, d)
		d.Signals = engine.Env{}
		cases = append(cases, d)
	}
	refused := []engine.Decision{{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, {Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600))}}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		d := engine.Decision{Time: time.Unix(1764800000, 0).UTC()}
		d.Signals.Geo.Lat = f
		refused = append(refused, d)
		d = engine.Decision{Time: time.Unix(1764800000, 0).UTC()}
		d.Signals.RBA.Score = f
		refused = append(refused, d)
	}
	for i, d := range append(cases, refused...) {
		rec := httptest.NewRecorder()
		WriteJSON(rec, 200, &d)
		want := writeJSONReference(&d)
		if got := rec.Body.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
		if _, ok := appendDecisionJSON(nil, &d); ok != (i < len(cases)) {
			t.Fatalf("case %d: the generated encoder says ok=%v", i, ok)
		}
		if i >= len(cases) && rec.Code != 500 {
			t.Errorf("case %d: refused value answered %d", i, rec.Code)
		}
	}
}

// BenchmarkDecisionJSON is a Score's body, with encoding/json and with the
// generated encoder.
func BenchmarkDecisionJSON(b *testing.B) {
	d := typicalDecision()
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeJSONReference(&d)
		}
	})
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = appendDecisionJSON(buf[:0], &d)
		}
	})
}

// typicalDecision is a known user's ordinary login: most signals zero or
// false, the strings of a real attempt, one reason.
func typicalDecision() engine.Decision {
	d := engine.Decision{
		DecisionID: "01JEXAMPLE0000000000000000", Tenant: "default", Time: time.Unix(1764800000, 123456789),
		Action: engine.ActionAllow, Score: 10, RulesVersion: "default@sha256:0123456789abcdef",
		Reasons: []engine.Reason{{RuleID: "new_device", Action: engine.ActionNone, Score: 10, Message: "first login from this device", Tags: []string{"device"}}},
	}
	s := &d.Signals
	s.Attempt = engine.AttemptEnv{Tenant: "default", UserID: "user-42", Username: "user42@example.com", IP: "81.2.69.160",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		Result:    "password_ok", HasUser: true, Hour: 9, Weekday: 3}
	s.User = engine.UserEnv{Known: true, Logins: 23, AgeDays: 41.5, DaysSince: 1.2, HourShare: 0.4, HoursLearned: true}
	s.Device = engine.DeviceEnv{IDPresent: true, New: true, Devices: 2, Family: "chrome/windows", Browser: "chrome", OS: "windows", Type: "desktop"}
	s.Geo = engine.GeoEnv{Known: true, Source: "geoip", Country: "GB", City: "London", Lat: 51.5, Lon: -0.12, HasCoordinates: true, AccuracyKM: 20,
		PreviousCountry: "GB", VelocityKnown: true, DistanceKM: 3.2, HoursSince: 28.8, SpeedKMH: 0.1}
	s.IP = engine.IPEnv{Version: 4, Class: "public", Public: true, NewForUser: true}
	s.IP.Usernames10m, s.IP.Usernames1h, s.IP.Usernames24h = 1, 1, 1
	s.Subnet.Prefix = "81.2.69.0/24"
	s.Subnet.Usernames10m, s.Subnet.Usernames1h, s.Subnet.Usernames24h = 1, 2, 5
	s.ASN = engine.ASNEnv{Known: true, Number: 20712, Org: "Andrews & Arnold Ltd"}
	s.Password = engine.PasswordEnv{Status: "absent"}
	s.Tenant = engine.TenantEnv{Attempts10m: 1200, Failures10m: 40, FailureRate10m: 0.033, FailureRate24h: 0.03}
	s.State.Available, s.RBA.Available, s.RBA.Score = true, true, 0.12
	return d
}

// TestJSONFloat: every awkward float, and whole numbers around the
// integer shortcut's bounds, are written as encoding/json writes them.
func TestJSONFloat(t *testing.T) {
	fs := append([]float64{}, awkwardFloats...)
	for _, f := range []float64{1e15, 1 << 53, 1e14} {
		fs = append(fs, f, -f, math.Nextafter(f, 0), math.Nextafter(f, 2*f), f+0.5)
	}
	for _, f := range fs {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendJSONFloat(nil, f)
		if !ok || string(got) != string(want) {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
}

// TestJSONStringPositions: a byte or rune that needs a look of its own is
// written as encoding/json writes it wherever it falls in or after the
// eight-byte runs appendJSONString skips.
func TestJSONStringPositions(t *testing.T) {
	pieces := []string{`"`, `\`, "\x00", "\x1f", " ", "\x7f", "é", "\u2028", "\u2029", "\xff", "\xe2\x82", "<&>", "🙂"}
	for _, p := range pieces {
		for n := range 20 {
			for at := 0; at <= n; at++ {
				checkJSONString(t, strings.Repeat("a", at)+p+strings.Repeat("b", n-at))
				checkJSONString(t, strings.Repeat(p, at)+strings.Repeat("c", n-at)+p)
			}
		}
	}
}

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	want := bytes.TrimSuffix(writeJSONReference(s), []byte("\n"))
	if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
		t.Fatalf("%q: %s, want %s", s, got, want)
	}
}

// FuzzJSONString: appendJSONString writes any string as encoding/json does.
func FuzzJSONString(f *testing.F) {
	for _, s := range awkwardStrings {
		f.Add(s)
	}
	f.Fuzz(checkJSONString)
}

// TestJSONInt: the small-number shortcut writes what strconv writes, at
// and around its bounds and at the extremes.
func TestJSONInt(t *testing.T) {
	ints := []int64{math.MinInt64, math.MaxInt64, math.MinInt64 + 1, 1 << 40}
	for v := int64(-300); v <= 300; v++ {
		ints = append(ints, v)
	}
	for _, v := range ints {
		if got, want := appendJSONInt([]byte("x"), v), strconv.AppendInt([]byte("x"), v, 10); !bytes.Equal(got, want) {
			t.Errorf("int %d: %s, want %s", v, got, want)
		}
		u := uint64(v)
		if got, want := appendJSONUint([]byte("x"), u), strconv.AppendUint([]byte("x"), u, 10); !bytes.Equal(got, want) {
			t.Errorf("uint %d: %s, want %s", u, got, want)
		}
	}
}

// checkFloatF holds appendFloatF to strconv's 'f' form of f.
func checkFloatF(t *testing.T, f float64) {
	t.Helper()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return
	}
	want := strconv.AppendFloat([]byte("x"), f, 'f', -1, 64)
	if got := appendFloatF([]byte("x"), f); !bytes.Equal(got, want) {
		t.Fatalf("%v (%#x): %s, want %s", f, math.Float64bits(f), got, want)
	}
}

// TestFloatF: the 'f' form rebuilt from the 'e' form is strconv's, for the
// awkward floats, every power of ten and its neighbours, and random ones
// of every exponent.
func TestFloatF(t *testing.T) {
	for _, f := range awkwardFloats {
		checkFloatF(t, f)
		checkFloatF(t, -f)
	}
	for e := -330; e <= 310; e++ {
		f := math.Pow10(e)
		for _, g := range []float64{f, math.Nextafter(f, 0), math.Nextafter(f, math.Inf(1)), 1.5 * f, f / 3, 48.8566 * f} {
			checkFloatF(t, g)
			checkFloatF(t, -g)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		checkFloatF(t, math.Float64frombits(r.Uint64()))
	}
}

// FuzzFloatF: as TestFloatF, on any float.
func FuzzFloatF(f *testing.F) {
	for _, x := range awkwardFloats {
		f.Add(x)
	}
	f.Fuzz(checkFloatF)
}

// TestHeaderValue: headerValue is Header.Get for the canonical keys it is
// given.
func TestHeaderValue(t *testing.T) {
	for _, key := range []string{"Content-Type", "Authorization"} {
		if textproto.CanonicalMIMEHeaderKey(key) != key {
			t.Fatalf("%q is not canonical", key)
		}
		for _, h := range []http.Header{nil, {}, {key: nil}, {key: {}}, {key: {"a"}}, {key: {"a", "b"}}, {"Other": {"x"}}} {
			if got, want := headerValue(h, key), h.Get(key); got != want {
				t.Errorf("%v %q: %q, want %q", h, key, got, want)
			}
		}
	}
}

// TestJSONTimeUTC: the shortcut for offset 0 writes what time.Time.MarshalJSON
// writes, for times of every year it takes, with and without fractions,
// and leaves the years it refuses to the general path's refusal.
func TestJSONTimeUTC(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(tm time.Time) {
		t.Helper()
		want, err := tm.MarshalJSON()
		got, ok := appendJSONTime([]byte("x"), tm)
		if err != nil {
			if ok {
				t.Fatalf("%v: %s, want a refusal (%v)", tm, got, err)
			}
			return
		}
		if !ok || string(got) != "x"+string(want) {
			t.Fatalf("%v: %s (%v), want x%s", tm, got, ok, want)
		}
	}
	for _, ns := range []int{0, 1, 10, 100_000_000, 120_000_000, 999_999_999, 123_456_789, 500} {
		for _, y := range []int{-1, 0, 1, 9, 99, 100, 999, 1000, 1969, 1970, 2026, 9999, 10000} {
			check(time.Date(y, time.December, 31, 23, 59, 59, ns, time.UTC))
			check(time.Date(y, time.January, 1, 0, 0, 0, ns, time.UTC))
		}
	}
	for range 100_000 {
		tm := time.Unix(r.Int64N(400_000_000_000)-62_200_000_000, r.Int64N(1e9)).UTC()
		if r.IntN(3) == 0 {
			tm = tm.Truncate(time.Duration(r.Int64N(int64(time.Second))) + 1)
		}
		check(tm)
	}
	check(time.Time{})
	check(time.Now().UTC())
	check(time.Now())
	for _, loc := range []*time.Location{time.FixedZone("Z0", 0), time.FixedZone("P1", 3600), time.FixedZone("M530", -(5*3600 + 30*60)), time.Local} {
		check(time.Date(2026, 12, 4, 14, 0, 21, 926545767, loc))
		check(time.Date(0, 1, 1, 0, 30, 0, 0, loc))
		check(time.Date(9999, 12, 31, 23, 30, 0, 0, loc))
	}
}

// TestFloatMemo: a run of floats written through one memo, with repeats
// next to each other and apart, 0 beside -0, refused values between, and
// b growing under it, reads as each written by appendJSONFloat; a
// repeat's text is copied, not formatted again.
func TestFloatMemo(t *testing.T) {
	negZero := math.Copysign(0, -1)
	runs := [][]float64{
		{-0.0543576623225927, -0.0543576623225927, -0.0543576623225927, -1.1553360374650616, -0.0543576623225927},
		{0, negZero, negZero, 0, 0},
		{1.5, math.NaN(), 1.5, math.Inf(1), math.Inf(1), 1.5},
		{math.NaN(), 2.25, 2.25},
		{1e21, 1e21, 1e-7, 1e-7, 123456.789, 123456.789},
	}
	r := rand.New(rand.NewPCG(7, 11))
	for range 200 {
		run := make([]float64, 12)
		for i := range run {
			run[i] = awkwardFloats[r.IntN(len(awkwardFloats))]
			if i > 0 && r.IntN(2) == 0 {
				run[i] = run[r.IntN(i)]
			}
		}
		runs = append(runs, run)
	}
	for i, run := range runs {
		var m floatMemo
		got, want := make([]byte, 0, 1), []byte{} // got reallocated as it grows
		for _, f := range run {
			var ok, wantOK bool
			got = append(got, ',')
			want = append(want, ',')
			got, ok = m.append(got, f)
			want, wantOK = appendJSONFloat(want, f)
			if ok != wantOK {
				t.Fatalf("run %d: %v: ok %v, want %v", i, f, ok, wantOK)
			}
		}
		if !bytes.Equal(got, want) {
			t.Errorf("run %d: %v\n got %s\nwant %s", i, run, got, want)
		}
	}
	var m floatMemo
	b, _ := m.append([]byte("x"), 0.1)
	b[1] = '9' // the memo copies its text from b: proof that it does
	if b, _ = m.append(b, 0.1); string(b) != "x9.19.1" {
		t.Errorf("the memo's repeat is %q, want a copy of b's text", b)
	}
}
