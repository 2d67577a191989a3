package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// FuzzScoreRequestConforms sends mutated bodies (and queries) to POST
// /v1/score on a live server and requires every answer to be one
// api/openapi.yaml describes (a status it lists for score, headers and a
// body valid for that status) and never a 500: whatever a client sends,
// what comes back is something a client generated from the document can
// read. The seeds are the usual attempts and the edges of the decoding
// (escapes, numbers, nesting, the fields the server cleans); inputs the
// fuzzer found are kept under testdata/fuzz/FuzzScoreRequestConforms.
//
//	go test ./api/server/ -run '^$' -fuzz FuzzScoreRequestConforms -fuzztime 2m
func FuzzScoreRequestConforms(f *testing.F) {
	for _, seed := range []struct{ body, query string }{
		{`{"user_id":"u-42","username":"alice@example.com","ip":"81.2.69.160","user_agent":"Mozilla/5.0","device_id":"d-7f3a","result":"password_ok"}`, ""},
		{`{"tenant":"acme","attempt_id":"a-1","time":"2026-06-01T10:00:00Z","user_id":"u-43","username":"bob","ip":"2001:db8::7","password_sha1":"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8","result":"password_bad","geo":{"country":"GB","lat":51.5,"lon":-0.12},"channel":"web","attributes":{"app":"ios"}}`, "omit_signals=true"},
		{`{"ip":"81.2.69.160"}`, "before_password=1"},
		{`{"ip":"81.2.69.160","result":"unknown"}`, "omit_signals=0&before_password=T"},
		{`{"ip":"::ffff:81.2.69.160","user_agent":"\u0000\ud800x\u2028","username":"ＡＬＩＣＥ\u200b"}`, ""},
		{`{"ip":"fe80::1%eth0"}`, ""},
		{`{"ip":"81.2.69.160","geo":{"lat":-0,"lon":1e-320}}`, ""},
		{`{"ip":"81.2.69.160","geo":{"lat":1e400,"lon":0}}`, ""},
		{`{"ip":"81.2.69.160","time":"2026-06-30T23:59:60Z"}`, ""},
		{`{"ip":"81.2.69.160","time":"9999-12-31T23:59:59+14:00"}`, ""},
		{`{"ip":"81.2.69.160","time":"9999-12-31T23:59:59-14:00"}`, ""},
		{`{"ip":"81.2.69.160","time":"2026-06-01T10:00:00.123456789123Z"}`, ""},
		{`{"ip":"81.2.69.160","attributes":{"pass word":"x","a":""}}`, ""},
		{`{"ip":"81.2.69.160","ip":"81.2.69.161"}`, ""},
		{`{"IP":"81.2.69.160"}`, ""},
		{`{"ip":null,"geo":null,"attributes":null}`, ""},
		{`[{"ip":"81.2.69.160"}]`, ""},
		{`{"ip":"81.2.69.160"} {}`, ""},
		{strings.Repeat(`{"a":`, 120) + "1" + strings.Repeat("}", 120), ""},
		{`{"ip":"81.2.69.160","user_agent":"` + strings.Repeat("é", 600) + `"}`, ""},
		{"", ""},
		{`{"ip":"81.2.69.160"}`, "omit_signals=yes"},
		{`{"ip":"81.2.69.160"}`, "%zz"},
	} {
		f.Add([]byte(seed.body), seed.query, uint8(255), "")
	}
	// Structured inputs: one field of a correct attempt set to the value.
	for i, v := range []string{"acme", "a-1", "2026-06-01T10:00:00+02:00", "u-42", "Alice", "2001:db8::1", "curl/8", "d-1",
		"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", "password_bad", "web", "GB", "app", "ios"} {
		f.Add([]byte(nil), "", uint8(i), v)
	}
	_, router := loadConformance(f)
	ts := startServer(f, testOpts{admin: adminToken})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	f.Fuzz(func(t *testing.T, body []byte, query string, field uint8, value string) {
		if !sendableQuery(query) {
			t.Skip("not a query a client can put on a request line")
		}
		if int(field) < len(attemptFields) {
			body = attemptWith(attemptFields[field], value)
		}
		newRequest := func() *http.Request {
			req, err := http.NewRequest("POST", ts.url("/v1/score"), strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			req.URL.RawQuery = query
			req.Header.Set("Content-Type", "application/json")
			return req
		}
		vreq := newRequest()
		route, params, err := router.FindRoute(vreq)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(newRequest())
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%q ?%s: %d %s", body, query, resp.StatusCode, data) // never a 500
		}
		in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: validationOptions()}
		if err := validateAnswer(in, resp, data); err != nil {
			t.Fatalf("%q ?%s: the answer (%d %.300s) is not what api/openapi.yaml describes: %s", body, query, resp.StatusCode, data, short(err))
		}
	})
}

// attemptFields are the fields a structured input sets, in a correct
// attempt: the value goes in as a JSON string (as a client's encoder
// writes it), so that the fuzzer explores the answers past decoding (the
// engine's refusals, the decision and what it echoes) as well as those of
// mangled JSON.
var attemptFields = []string{"tenant", "attempt_id", "time", "user_id", "username", "ip", "user_agent", "device_id",
	"password_sha1", "result", "channel", "geo.country", "attributes.key", "attributes.value"}

// attemptWith is a correct attempt whose field is value.
func attemptWith(field, value string) []byte {
	a := map[string]any{"ip": "81.2.69.160", "user_id": "u-1"}
	switch field {
	case "geo.country":
		a["geo"] = map[string]string{"country": value}
	case "attributes.key":
		a["attributes"] = map[string]string{value: "v"}
	case "attributes.value":
		a["attributes"] = map[string]string{"k": value}
	default:
		a[field] = value
	}
	data, err := json.Marshal(a)
	if err != nil {
		panic(err) // strings and maps of strings always encode
	}
	return data
}

// sendableQuery reports whether q can go on a request line as it is:
// printable ASCII without a space or a fragment.
func sendableQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}
