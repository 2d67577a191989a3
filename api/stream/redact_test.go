package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/engine"
)

const sha1Hex = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"

// marker is RedactedMarker as a JSON value.
const marker = `"` + RedactedMarker + `"`

func TestRedactJSON(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	for _, tc := range []struct {
		name, in string
		outcome  bool
		force    bool
		want     string // "" : unchanged
		fields   []string
		bad      bool // not parsed
	}{
		{name: "attribute", in: `{"ip":"1.2.3.4","attributes":{"password":"hunter2"}}`,
			want: `{"ip":"1.2.3.4","attributes":{"password":` + marker + `}}`, fields: []string{"attributes.password"}},
		{name: "nothing", in: `{"ip":"1.2.3.4","attributes":{"app":"web"},"password_sha1":"` + sha1Hex + `"}`},
		{name: "bad sha1", in: `{"ip":"1.2.3.4","password_sha1":"hunter2"}`,
			want: `{"ip":"1.2.3.4","password_sha1":` + marker + `}`, fields: []string{"password_sha1"}},
		{name: "sha1 refused", in: `{"password_sha1":"` + sha1Hex + `"}`, force: true,
			want: `{"password_sha1":` + marker + `}`, fields: []string{"password_sha1"}},
		{name: "sha1 not a string", in: `{"password_sha1":{"password":"hunter2"},"ip":"x"}`,
			want: `{"password_sha1":` + marker + `,"ip":"x"}`, fields: []string{"password_sha1"}},
		{name: "sha1 number", in: `{"password_sha1":12345678}`, want: `{"password_sha1":` + marker + `}`, fields: []string{"password_sha1"}},
		{name: "sha1 of an outcome", in: `{"password_sha1":"` + sha1Hex + `","attempt":{"password_sha1":"` + sha1Hex + `"}}`, outcome: true,
			want: `{"password_sha1":` + marker + `,"attempt":{"password_sha1":"` + sha1Hex + `"}}`, fields: []string{"password_sha1"}},
		{name: "sha1 elsewhere", in: `{"attributes":{"password_sha1":"` + sha1Hex + `"},"geo":{"password_sha1":"` + sha1Hex + `"},"x":[{"password_sha1":"` + sha1Hex + `"}]}`,
			want:   `{"attributes":{"password_sha1":` + marker + `},"geo":{"password_sha1":` + marker + `},"x":[{"password_sha1":` + marker + `}]}`,
			fields: []string{"attributes.password_sha1", "geo.password_sha1", "x.password_sha1"}},
		{name: "plain password field", in: `{"tenant":"acme","ip":"81.2.69.1","password":"hunter2"}`,
			want: `{"tenant":"acme","ip":"81.2.69.1","password":` + marker + `}`, fields: []string{"password"}},
		{name: "nested", in: `{"attributes":{"a":"b","userPin":"1234"},"extra":{"deep":{"client_secret":["hunter2",{"x":1}]}}}`,
			want:   `{"attributes":{"a":"b","userPin":` + marker + `},"extra":{"deep":{"client_secret":` + marker + `}}}`,
			fields: []string{"attributes.userPin", "extra.deep.client_secret"}},
		{name: "arrays", in: `[{"otp":"123456"},[{"token":null}],{"api_key":true}]`,
			want:   `[{"otp":` + marker + `},[{"token":` + marker + `}],{"api_key":` + marker + `}]`,
			fields: []string{"otp", "token", "api_key"}},
		{name: "escaped key", in: `{"attributes":{"pass\u0077ord":"hunter2","x\"y":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}}`,
			want: `{"attributes":{"pass\u0077ord":` + marker + `,"x\"y":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}}`, fields: []string{"attributes.password"}},
		{name: "escaped value", in: `{"password":"hun\"ter\\2\u0000"}`, want: `{"password":` + marker + `}`, fields: []string{"password"}},
		{name: "duplicate keys", in: `{"attributes":{"password":"hunter2","password":"hunter3"},"password_sha1":"` + sha1Hex + `","password_sha1":"hunter4"}`,
			want:   `{"attributes":{"password":` + marker + `,"password":` + marker + `},"password_sha1":"` + sha1Hex + `","password_sha1":` + marker + `}`,
			fields: []string{"attributes.password", "password_sha1"}},
		{name: "white space", in: " \n{ \"pwd\" :\t\"hunter2\" , \"ip\" : 1 }\r\n",
			want: " \n{ \"pwd\" :\t" + marker + " , \"ip\" : 1 }\r\n", fields: []string{"pwd"}},
		{name: "huge value", in: `{"username":"` + big + `","attributes":{"passcode":"` + big + `"}}`,
			want: `{"username":"` + big + `","attributes":{"passcode":` + marker + `}}`, fields: []string{"attributes.passcode"}},
		{name: "invalid UTF-8 value", in: "{\"password\":\"hunter2\xff\xfe\",\"ua\":\"\xc3\"}",
			want: "{\"password\":" + marker + ",\"ua\":\"\xc3\"}", fields: []string{"password"}},
		{name: "invalid UTF-8 in the key", in: "{\"pass\xffword\":\"hunter2\"}", want: "{\"pass\xffword\":" + marker + "}", fields: []string{"pass\xffword"}},
		{name: "invisible in the key", in: `{"pass` + "\u200b" + `word":"hunter2"}`, want: `{"pass` + "\u200b" + `word":` + marker + `}`, fields: []string{"pass\u200bword"}},
		{name: "upper case", in: `{"Password":"hunter2","SECRET":"x"}`, want: `{"Password":` + marker + `,"SECRET":` + marker + `}`, fields: []string{"Password", "SECRET"}},
		{name: "not an object", in: `"password"`},
		{name: "numbers", in: `{"a":[0,-1,1.5e10,-0.25E-3,12]}`},
		{name: "truncated", in: `{"ip":"1.2.3.4","password":"hunter2`, bad: true},
		{name: "trailing data", in: `{"ip":"1.2.3.4"} {"password":"hunter2"}`, bad: true},
		{name: "bad escape", in: `{"password":"\x"}`, bad: true},
		{name: "control character", in: "{\"password\":\"a\nb\"}", bad: true},
		{name: "bad number", in: `{"pin":01}`, bad: true},
		{name: "bare word", in: `{"pin":hunter2}`, bad: true},
		{name: "empty", in: ``, bad: true},
		{name: "too deep", in: strings.Repeat("[", maxRedactDepth+1) + strings.Repeat("]", maxRedactDepth+1), bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := []string{"password_sha1"}
			if tc.outcome {
				at = []string{"attempt", "password_sha1"}
			}
			out, fields, ok := redactJSON([]byte(tc.in), at, tc.force)
			if ok == tc.bad {
				t.Fatalf("parsed %v, want %v", ok, !tc.bad)
			}
			if tc.bad {
				return
			}
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if string(out) != want {
				t.Fatalf("got  %.300q\nwant %.300q", out, want)
			}
			if !slices.Equal(fields, tc.fields) {
				t.Fatalf("fields %q, want %q", fields, tc.fields)
			}
			if json.Valid([]byte(tc.in)) != json.Valid(out) {
				t.Fatalf("validity changed: %q", out)
			}
		})
	}
}

// TestRedactDeadLetter covers what deadLetterOf writes: redacted fields,
// a value left out, or the original.
func TestRedactDeadLetter(t *testing.T) {
	secretErr := &engine.FieldError{Field: "attributes.password", Msg: "looks like a secret: ..."}
	ipErr := &engine.FieldError{Field: "ip", Msg: "not an IPv4 or IPv6 address"}
	for _, tc := range []struct {
		name, in string
		format   string
		cause    error
		want     string // "" with dropped false: unchanged
		dropped  bool
	}{
		{name: "secret refused", in: `{"ip":"1.2.3.4","attributes":{"password":"hunter2"}}`, cause: secretErr,
			want: `{"ip":"1.2.3.4","attributes":{"password":` + marker + `}}`},
		{name: "other refusal, secret held", in: `{"ip":"x","attributes":{"otp":"hunter2"}}`, cause: ipErr,
			want: `{"ip":"x","attributes":{"otp":` + marker + `}}`},
		{name: "other refusal", in: `{"ip":"x","password_sha1":"` + sha1Hex + `"}`, cause: ipErr},
		{name: "sha1 given twice", in: `{"password_sha1":"` + sha1Hex + `","password_sha1":"` + sha1Hex + `"}`,
			cause: &wire.Error{Field: "password_sha1", Msg: "password_sha1: given twice"},
			want:  `{"password_sha1":` + marker + `,"password_sha1":` + marker + `}`},
		{name: "secret refused, nothing found", in: `{"ip":"1.2.3.4"}`, cause: secretErr, dropped: true},
		{name: "secret refused, unparsed", in: `{"ip":"1.2.3.4","attributes":{"x":"hunter2"`, cause: secretErr, dropped: true},
		{name: "plain password in words", in: `{"ip":"1.2.3.4","password":"hunter2`, cause: errors.New("message: truncated JSON"), dropped: true},
		{name: "escaped password word", in: `{"ip":"1.2.3.4","pass\u0077ord":"hunter2`, cause: errors.New("message: truncated JSON"), dropped: true},
		{name: "unparsed, no secret word", in: `{"ip":"1.2.3.4","user_id":"u1"`, cause: errors.New("message: truncated JSON")},
		{name: "plain password message", in: `garbage`, cause: &wire.Error{Field: "x", Msg: "x: unknown field: " + engine.PlainPasswordMsg}, dropped: true},
		{name: "bad content-type", in: `{"pin":"1234"}`, format: "", cause: errors.New(`content-type "text/csv"`),
			want: `{"pin":` + marker + `}`},
		{name: "protobuf, unparsed", in: "\x0a\x03\xff", format: formatProto, cause: errors.New("not a riskgate.v1.Attempt")},
		{name: "protobuf, unparsed with a secret word", in: "\x0a\x03\xff\x72\x08password", format: formatProto, cause: errors.New("not a riskgate.v1.Attempt"), dropped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format := tc.format
			if format == "" && tc.name != "bad content-type" {
				format = formatJSON
			}
			red := redactDeadLetter([]byte(tc.in), format, false, tc.cause)
			if red.dropped != tc.dropped {
				t.Fatalf("dropped %v, want %v (%q)", red.dropped, tc.dropped, red.value)
			}
			if tc.dropped {
				if red.value != nil || red.fields != nil {
					t.Fatalf("dropped with %q %q", red.value, red.fields)
				}
				return
			}
			want := tc.want
			if want == "" {
				want = tc.in
				if len(red.fields) != 0 {
					t.Fatalf("fields %q for an unchanged value", red.fields)
				}
			} else if len(red.fields) == 0 {
				t.Fatal("no fields for a redacted value")
			}
			if string(red.value) != want {
				t.Fatalf("got  %q\nwant %q", red.value, want)
			}
		})
	}
}

func TestRedactProto(t *testing.T) {
	a := &pb.Attempt{Tenant: "acme", Ip: "81.2.69.1", PasswordSha1: "hunter2", Attributes: map[string]string{"app": "web", "userPin": "1234", "api_key": "k"}}
	data, err := proto.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	red := redactDeadLetter(data, formatProto, false, &engine.FieldError{Field: "password_sha1", Msg: "not hexadecimal"})
	var got pb.Attempt
	if red.dropped || proto.Unmarshal(red.value, &got) != nil {
		t.Fatalf("%+v", red)
	}
	if got.PasswordSha1 != RedactedMarker || got.Attributes["userPin"] != RedactedMarker || got.Attributes["api_key"] != RedactedMarker ||
		got.Attributes["app"] != "web" || got.Tenant != "acme" || got.Ip != "81.2.69.1" {
		t.Fatalf("redacted %v", &got)
	}
	if want := []string{"password_sha1", "attributes.api_key", "attributes.userPin"}; !slices.Equal(red.fields, want) {
		t.Fatalf("fields %q, want %q", red.fields, want)
	}
	// An outcome's attempt; a valid SHA-1 is kept.
	o := &pb.ReportRequest{Attempt: &pb.Attempt{Ip: "81.2.69.1", PasswordSha1: sha1Hex, Attributes: map[string]string{"secret": "s"}}}
	if data, err = proto.Marshal(o); err != nil {
		t.Fatal(err)
	}
	red = redactDeadLetter(data, formatProto, true, &engine.FieldError{Field: "attempt.attributes.secret", Msg: engine.SecretMsg})
	var gotO pb.ReportRequest
	if red.dropped || proto.Unmarshal(red.value, &gotO) != nil || gotO.Attempt.PasswordSha1 != sha1Hex || gotO.Attempt.Attributes["secret"] != RedactedMarker {
		t.Fatalf("%+v", red)
	}
	if want := []string{"attempt.attributes.secret"}; !slices.Equal(red.fields, want) {
		t.Fatalf("fields %q, want %q", red.fields, want)
	}
	// Nothing to redact: the bytes as they were.
	data, _ = proto.Marshal(&pb.Attempt{Ip: "x", PasswordSha1: sha1Hex, Attributes: map[string]string{"app": "web"}})
	if red = redactDeadLetter(data, formatProto, false, errors.New("ip")); !bytes.Equal(red.value, data) || red.fields != nil {
		t.Fatalf("%+v", red)
	}
}

// FuzzRedactJSON checks redactJSON against encoding/json: it parses what
// encoding/json does, keeps the value valid and every member not
// redacted, and leaves no secret-named member unredacted.
func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{
		`{"ip":"1.2.3.4","attributes":{"password":"hunter2plain"}}`,
		`{"password_sha1":"hunter2","password_sha1":"` + sha1Hex + `"}`,
		`{"a":[1,2,{"otp":[true,false,null]}],"b":{"c":-1.5e3}}`,
		`{"pass\u0077ord":"\ud83d\ude00\ud800"}`,
		"{\"pin\xff\":\"\xfe\"}",
		`{"x":"y"} trailing`,
		`[[[[{"token":{}}]]]]`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, force bool) {
		out, fields, ok := redactJSON(data, []string{"password_sha1"}, force)
		if ok != json.Valid(data) && depth(data) <= maxRedactDepth {
			t.Fatalf("parsed %v, encoding/json says valid %v", ok, json.Valid(data))
		}
		if !ok {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("redacted %q is not JSON", out)
		}
		if len(fields) == 0 {
			if !bytes.Equal(out, data) {
				t.Fatal("changed without a field redacted")
			}
		} else if !bytes.Contains(out, []byte(marker)) {
			t.Fatal("no marker")
		}
		// Every member named like a secret is the marker (the valid
		// password_sha1 aside); every other scalar is as it was.
		var in, red any
		if json.Unmarshal(data, &in) != nil || json.Unmarshal(out, &red) != nil {
			return // duplicate keys and the like are fine; encoding/json may still refuse depth
		}
		if utf8.Valid(data) && !hasDuplicates(data) {
			compare(t, in, red, 0, force)
		}
	})
}

// depth is the nesting of a JSON text, roughly (brackets in strings count).
func depth(data []byte) int {
	d, m := 0, 0
	for _, c := range data {
		switch c {
		case '[', '{':
			d++
			m = max(m, d)
		case ']', '}':
			d--
		}
	}
	return m
}

// hasDuplicates says whether an object of data gives a name twice (then
// encoding/json keeps the last, and compare cannot tell).
func hasDuplicates(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		key    bool
		seen   map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
				continue
			}
			k := tok.(string)
			if top.seen[k] {
				return true
			}
			top.seen[k] = true
			top.key = false
			continue
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			stack = append(stack, &frame{object: true, key: true, seen: map[string]bool{}})
			continue
		case '[':
			stack = append(stack, &frame{})
			continue
		case ']':
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

func compare(t *testing.T, in, red any, level int, force bool) {
	switch v := in.(type) {
	case map[string]any:
		r, ok := red.(map[string]any)
		if !ok || len(r) != len(v) {
			t.Fatalf("object %v became %v", v, red)
		}
		for k, e := range v {
			if looksLikeSecret(k) {
				if s, ok := e.(string); ok && level == 0 && k == "password_sha1" && isSHA1(s) && !force {
					if r[k] != s {
						t.Fatalf("valid password_sha1 %v became %v", s, r[k])
					}
					continue
				}
				if r[k] != RedactedMarker {
					t.Fatalf("%q: %v not redacted (%v)", k, e, r[k])
				}
				continue
			}
			compare(t, e, r[k], level+1, force)
		}
	case []any:
		r, ok := red.([]any)
		if !ok || len(r) != len(v) {
			t.Fatalf("array %v became %v", v, red)
		}
		for i := range v {
			compare(t, v[i], r[i], level+1, force)
		}
	default:
		if in != red {
			t.Fatalf("%v became %v", in, red)
		}
	}
}
