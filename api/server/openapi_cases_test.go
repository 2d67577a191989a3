package server_test

// The requests of TestOpenAPIConformance (openapi_conformance_test.go),
// one table: each operation's success and the errors a client meets.

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// manyAttributes are n attributes, as JSON members.
func manyAttributes(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	return b.String()
}

// filesBody is a JSON rules request of one file.
func filesBody(name, content string) string {
	return `{"files":[{"name":` + jsonString(name) + `,"content":` + jsonString(content) + `}]}`
}

// conformanceCases are the requests, in the order they are sent: some
// rely on what an earlier one did (the rules and acme's overlay are put
// before they are promoted, a rule promoted before it is promoted again,
// the tenants folder taken away last).
func conformanceCases() []confCase {
	const (
		attempt = `{"user_id":"u-42","username":"alice@example.com","ip":"81.2.69.160","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","device_id":"d-7f3a","result":"password_ok"}`
		badJSON = `{"ip":"81.2.69.160",`
	)
	var (
		big         = strings.Repeat("x", 70<<10) // over the attempts' 64 KiB
		bigRules    = strings.Repeat("#", 4<<20)  // over the rules' 4 MiB
		bigBacktest = strings.Repeat("#", 8<<20)  // over a backtest's 8 MiB
		longID      = strings.Repeat("u", 257)    // over the ids' 256 bytes
		rules       = filesBody("rules.yaml", conformanceRules)
		overlay     = filesBody("acme.yaml", conformanceOverlay)
		broken      = filesBody("bad.yaml", brokenRules)
		kratosLogin = func(flowType string) string {
			return `{"flow_id":"f-1","flow_type":"` + flowType + `","authenticated_at":"2026-06-01T10:00:00Z","identity_id":"id-1","username":"alice@example.com","ip":"81.2.69.160:51234","user_agent":"Mozilla/5.0","location":"London, GB","aal":"aal1"}`
		}
	)
	// putKratosRules gives the Kratos server its rules, once.
	putKratosRules := func(t *testing.T, e *conformanceEnv) {
		if code := httpDo(t, nil, "PUT", e.srv["kratos"].url("/v1/rules"), adminToken, filesBody("rules.yaml", kratosRules), nil); code != 200 {
			t.Fatalf("PUT the Kratos server's rules: %d", code)
		}
	}
	// goneTenants moves main's tenants folder away (a volume that failed
	// to mount) until the test ends, and waits until the server sees it.
	goneTenants := func(t *testing.T, e *conformanceEnv) {
		ts := e.srv["main"]
		if err := os.Rename(ts.tenantsDir, ts.tenantsDir+".away"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the missing tenants folder reported", func() bool {
			var v struct {
				ReloadError any `json:"reload_error"`
			}
			return httpDo(t, nil, "GET", ts.url("/v1/tenants/acme/rules"), adminToken, nil, &v) == 200 && v.ReloadError != nil
		})
	}

	return []confCase{
		// POST /v1/score
		{op: "score", name: "the document's example", method: "POST", path: "/v1/score", token: scoringToken, body: attempt, want: 200},
		{op: "score", name: "every field", method: "POST", path: "/v1/score", token: scoringToken, want: 200,
			body: `{"tenant":"acme","attempt_id":"a-1","time":"2026-06-01T10:00:00Z","user_id":"u-43","username":"bob","ip":"2001:db8::7","user_agent":"curl/8","device_id":"d-1","password_sha1":"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8","result":"password_bad","geo":{"country":"GB","lat":51.5,"lon":-0.12},"channel":"web","attributes":{"app":"ios"}}`},
		{op: "score", name: "omit_signals", method: "POST", path: "/v1/score?omit_signals=true", token: scoringToken, body: attempt, want: 200},
		{op: "score", name: "before_password", method: "POST", path: "/v1/score?before_password=1", token: scoringToken, body: `{"user_id":"u-42","ip":"81.2.69.160"}`, want: 200},
		{op: "score", name: "both parameters", method: "POST", path: "/v1/score?omit_signals=TRUE&before_password=false", token: scoringToken, body: attempt, want: 200},
		// The server takes a body without a Content-Type (README), which the
		// document cannot say: its clients send one.
		{op: "score", name: "no Content-Type", method: "POST", path: "/v1/score", token: scoringToken, ctype: "none", body: attempt, want: 200, refused: true},
		{op: "score", name: "a long user agent is cut, not refused", method: "POST", path: "/v1/score", token: scoringToken, want: 200,
			body: `{"ip":"81.2.69.160","user_agent":"` + strings.Repeat("a", 2000) + `","username":"` + strings.Repeat("b", 300) + `","device_id":"` + strings.Repeat("c", 300) + `"}`},
		{op: "score", name: "scoring open, no token", srv: "open", method: "POST", path: "/v1/score", body: attempt, want: 200},
		{op: "score", name: "the store down", method: "POST", path: "/v1/score", token: scoringToken, body: attempt, down: true, want: 200},
		{op: "score", name: "the store down, a retry's attempt_id", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","attempt_id":"a-down"}`, down: true, want: 200},
		{op: "score", name: "bad JSON", method: "POST", path: "/v1/score", token: scoringToken, body: badJSON, want: 400, refused: true},
		{op: "score", name: "no body", method: "POST", path: "/v1/score", token: scoringToken, ctype: "application/json", want: 400, field: "ip", refused: true},
		{op: "score", name: "no ip", method: "POST", path: "/v1/score", token: scoringToken, body: `{"user_id":"u-42"}`, want: 400, field: "ip", refused: true},
		{op: "score", name: "an empty ip", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":""}`, want: 400, field: "ip", refused: true},
		{op: "score", name: "an ip too long", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"` + strings.Repeat("1", 65) + `"}`, want: 400, field: "ip", refused: true},
		{op: "score", name: "not an address", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.999"}`, want: 400, field: "ip"},
		{op: "score", name: "a number for a string", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","username":7}`, want: 400, field: "username", refused: true},
		{op: "score", name: "latitude out of range", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","geo":{"lat":91,"lon":0}}`, want: 400, field: "geo.lat", refused: true},
		{op: "score", name: "country not two letters", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","geo":{"country":"GBR"}}`, want: 400, field: "geo.country", refused: true},
		{op: "score", name: "unknown result", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","result":"ok"}`, want: 400, field: "result", refused: true},
		{op: "score", name: "unknown field", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","ipaddr":"x"}`, want: 400, field: "ipaddr", refused: true},
		{op: "score", name: "not a SHA-1", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","password_sha1":"hunter2"}`, want: 400, field: "password_sha1", refused: true},
		{op: "score", name: "a tenant of other characters", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","tenant":"acme corp"}`, want: 400, field: "tenant", refused: true},
		{op: "score", name: "a tenant starting with a dot", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","tenant":".acme"}`, want: 400, field: "tenant", refused: true},
		{op: "score", name: "a channel of other characters", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","channel":"web app"}`, want: 400, field: "channel", refused: true},
		{op: "score", name: "an id too long", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","user_id":"` + longID + `"}`, want: 400, field: "user_id", refused: true},
		// 200 characters, 400 bytes: the document's maxLength counts
		// characters, the server bytes (the description says so).
		{op: "score", name: "an id of two-byte characters too long", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","user_id":"` + strings.Repeat("é", 200) + `"}`, want: 400, field: "user_id"},
		{op: "score", name: "an attribute key too long", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","attributes":{"` + strings.Repeat("k", 65) + `":"v"}}`, want: 400, field: "attributes"},
		{op: "score", name: "a year before 2000", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","time":"1999-12-31T23:59:59Z"}`, want: 400, field: "time"},
		{op: "score", name: "33 attributes", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","attributes":{` + manyAttributes(33) + `}}`, want: 400, field: "attributes", refused: true},
		{op: "score", name: "a password in the attributes", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","attributes":{"password":"hunter2"}}`, want: 400, field: "attributes.password"},
		{op: "score", name: "before_password with a result", method: "POST", path: "/v1/score?before_password=true", token: scoringToken, body: attempt, want: 400, field: "before_password"},
		{op: "score", name: "not a boolean", method: "POST", path: "/v1/score?omit_signals=yes", token: scoringToken, body: attempt, want: 400, field: "omit_signals", refused: true},
		{op: "score", name: "a misspelt parameter", method: "POST", path: "/v1/score?before_pasword=1", token: scoringToken, body: attempt, want: 400, field: "before_pasword"},
		{op: "score", name: "a parameter twice", method: "POST", path: "/v1/score?omit_signals=true&omit_signals=false", token: scoringToken, body: attempt, want: 400, field: "omit_signals"},
		{op: "score", name: "no token", method: "POST", path: "/v1/score", body: attempt, want: 401},
		{op: "score", name: "a wrong token", method: "POST", path: "/v1/score", token: "wrong-token-0123456789", body: attempt, want: 401},
		{op: "score", name: "a tenant admin's token", method: "POST", path: "/v1/score", token: acmeToken, body: attempt, want: 403},
		{op: "score", name: "over 64 KiB", method: "POST", path: "/v1/score", token: scoringToken, body: `{"ip":"81.2.69.160","user_agent":"` + big + `"}`, want: 413},
		{op: "score", name: "text/plain", method: "POST", path: "/v1/score", token: scoringToken, ctype: "text/plain", body: attempt, want: 415, refused: true},
		{op: "score", name: "gzip", method: "POST", path: "/v1/score", token: scoringToken, header: map[string]string{"Content-Encoding": "gzip"}, body: attempt, want: 415},
		// The document says application/json, which a charset parameter
		// does not change for a validator: only the server refuses one
		// other than utf-8 (JSON is UTF-8, RFC 8259).
		{op: "score", name: "charset utf-8", method: "POST", path: "/v1/score", token: scoringToken, ctype: "application/json; charset=utf-8", body: attempt, want: 200},
		{op: "score", name: "charset latin1", method: "POST", path: "/v1/score", token: scoringToken, ctype: "application/json; charset=latin1", body: attempt, want: 415},

		// POST /v1/outcome
		{op: "report", name: "a pending decision's outcome", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{pending}","outcome":"login_succeeded","time":"2026-06-01T10:00:00Z"}`, want: 204},
		{op: "report", name: "an analyst's label", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{complete}","outcome":"confirmed_fraud"}`, want: 204},
		{op: "report", name: "the attempt itself", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"attempt":{"user_id":"u-42","ip":"81.2.69.160","attempt_id":"a-out"},"outcome":"login_failed"}`, want: 204},
		{op: "report", name: "scoring open, no token", srv: "open", method: "POST", path: "/v1/outcome", body: `{"decision_id":"{pending}","outcome":"login_failed"}`, want: 204},
		{op: "report", name: "unknown decision", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"nope","outcome":"login_failed"}`, want: 404, field: "decision_id"},
		{op: "report", name: "a decision complete when scored", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{complete}","outcome":"login_failed"}`, want: 404, field: "decision_id"},
		{op: "report", name: "the store down", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{pending}","outcome":"login_failed"}`, down: true, want: 503},
		{op: "report", name: "bad JSON", method: "POST", path: "/v1/outcome", token: scoringToken, body: badJSON, want: 400, refused: true},
		{op: "report", name: "no outcome", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{pending}"}`, want: 400, field: "outcome", refused: true},
		{op: "report", name: "unknown outcome", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"{pending}","outcome":"success"}`, want: 400, field: "outcome", refused: true},
		{op: "report", name: "a tenant of other characters", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"tenant":"acme corp","decision_id":"{pending}","outcome":"login_failed"}`, want: 400, field: "tenant", refused: true},
		{op: "report", name: "neither decision nor attempt", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"outcome":"login_failed"}`, want: 400, field: "decision_id"},
		{op: "report", name: "a string for the attempt", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"attempt":"81.2.69.160","outcome":"login_failed"}`, want: 400, field: "attempt", refused: true},
		{op: "report", name: "the attempt's bad address", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"attempt":{"ip":"nope"},"outcome":"login_failed"}`, want: 400, field: "attempt.ip"},
		{op: "report", name: "no token", method: "POST", path: "/v1/outcome", body: `{"decision_id":"x","outcome":"login_failed"}`, want: 401},
		{op: "report", name: "a tenant admin's token", method: "POST", path: "/v1/outcome", token: acmeToken, body: `{"decision_id":"x","outcome":"login_failed"}`, want: 403},
		{op: "report", name: "over 64 KiB", method: "POST", path: "/v1/outcome", token: scoringToken, body: `{"decision_id":"` + big + `","outcome":"login_failed"}`, want: 413},
		{op: "report", name: "text/plain", method: "POST", path: "/v1/outcome", token: scoringToken, ctype: "text/plain", body: `{"decision_id":"x","outcome":"login_failed"}`, want: 415, refused: true},
		{op: "report", name: "charset latin1", method: "POST", path: "/v1/outcome", token: scoringToken, ctype: "application/json; charset=latin1", body: `{"decision_id":"x","outcome":"login_failed"}`, want: 415},

		// GET /v1/users/{tenant}/{user}
		{op: "getProfile", name: "a user with a baseline", method: "GET", path: "/v1/users/default/u-42", token: adminToken, want: 200},
		{op: "getProfile", name: "an escaped user id", method: "GET", path: "/v1/users/default/u%2F42", token: adminToken, want: 404},
		{op: "getProfile", name: "nothing held", method: "GET", path: "/v1/users/default/u-nobody", token: adminToken, want: 404},
		{op: "getProfile", name: "a user id too long", method: "GET", path: "/v1/users/default/" + longID, token: adminToken, want: 400, field: "user_id", refused: true},
		{op: "getProfile", name: "a tenant of other characters", method: "GET", path: "/v1/users/acme%20corp/u-42", token: adminToken, want: 400, field: "tenant", refused: true},
		{op: "getProfile", name: "a query", method: "GET", path: "/v1/users/default/u-42?full=1", token: adminToken, want: 400, field: "full"},
		{op: "getProfile", name: "the store down", method: "GET", path: "/v1/users/default/u-42", token: adminToken, down: true, want: 503},
		{op: "getProfile", name: "no token", method: "GET", path: "/v1/users/default/u-42", want: 401, refused: true},
		{op: "getProfile", name: "the scoring token", method: "GET", path: "/v1/users/default/u-42", token: scoringToken, want: 403},
		{op: "getProfile", name: "the admin API off", srv: "off", method: "GET", path: "/v1/users/default/u-42", token: adminToken, want: 403},

		// DELETE /v1/users/{tenant}/{user}
		{op: "forget", name: "a user", method: "DELETE", path: "/v1/users/default/u-43", token: adminToken, want: 204},
		{op: "forget", name: "a user id too long", method: "DELETE", path: "/v1/users/default/" + longID, token: adminToken, want: 400, field: "user_id", refused: true},
		{op: "forget", name: "the store down", method: "DELETE", path: "/v1/users/default/u-43", token: adminToken, down: true, want: 503},
		{op: "forget", name: "no token", method: "DELETE", path: "/v1/users/default/u-43", want: 401, refused: true},
		{op: "forget", name: "a tenant admin's token", method: "DELETE", path: "/v1/users/acme/u-43", token: acmeToken, want: 403},

		// GET /v1/rules
		{op: "getRules", name: "the ruleset", method: "GET", path: "/v1/rules", token: adminToken, want: 200},
		{op: "getRules", name: "a query", method: "GET", path: "/v1/rules?v=2", token: adminToken, want: 400, field: "v"},
		{op: "getRules", name: "no token", method: "GET", path: "/v1/rules", want: 401, refused: true},
		{op: "getRules", name: "the scoring token", method: "GET", path: "/v1/rules", token: scoringToken, want: 403},
		{op: "getRules", name: "the admin API off", srv: "off", method: "GET", path: "/v1/rules", token: "any-token-0123456789", want: 403},

		// PUT /v1/rules
		{op: "putRules", name: "files", method: "PUT", path: "/v1/rules", token: adminToken, body: rules, want: 200},
		{op: "putRules", name: "a YAML file", method: "PUT", path: "/v1/rules?name=rules.yaml", token: adminToken, ctype: "application/yaml", body: conformanceRules, want: 200},
		{op: "putRules", name: "if_version", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"if_version":"{version}",` + rules[1:], want: 200},
		{op: "putRules", name: "If-Match", method: "PUT", path: "/v1/rules", token: adminToken, header: map[string]string{"If-Match": `"{version}"`}, body: rules, want: 200},
		{op: "putRules", name: "held in memory", srv: "open", method: "PUT", path: "/v1/rules", token: adminToken, body: rules, want: 200},
		{op: "putRules", name: "a stale if_version", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"if_version":"sha256:000000000000",` + rules[1:], want: 409, field: "if_version"},
		{op: "putRules", name: "a stale If-Match", method: "PUT", path: "/v1/rules", token: adminToken, header: map[string]string{"If-Match": `"sha256:000000000000"`}, body: rules, want: 412},
		{op: "putRules", name: "a malformed If-Match", method: "PUT", path: "/v1/rules", token: adminToken, header: map[string]string{"If-Match": `sha256:000000000000`}, body: rules, want: 400},
		{op: "putRules", name: "if_version and If-Match differ", method: "PUT", path: "/v1/rules", token: adminToken, header: map[string]string{"If-Match": `"{version}"`}, body: `{"if_version":"sha256:000000000000",` + rules[1:], want: 400, field: "if_version"},
		{op: "putRules", name: "a ruleset that does not compile", method: "PUT", path: "/v1/rules", token: adminToken, body: broken, want: 400, field: "files"},
		{op: "putRules", name: "bad JSON", method: "PUT", path: "/v1/rules", token: adminToken, body: badJSON, want: 400, refused: true},
		{op: "putRules", name: "a string for files", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"files":"rules.yaml"}`, want: 400, field: "files", refused: true},
		{op: "putRules", name: "a file without content", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"files":[{"name":"rules.yaml"}]}`, want: 400, field: "files", refused: true},
		{op: "putRules", name: "an attempt", method: "PUT", path: "/v1/rules", token: adminToken, body: `{"attempt":{"ip":"81.2.69.160"},` + rules[1:], want: 400, field: "attempt", refused: true},
		{op: "putRules", name: "no files", method: "PUT", path: "/v1/rules", token: adminToken, body: `{}`, want: 400, field: "files", refused: true},
		{op: "putRules", name: "name with JSON", method: "PUT", path: "/v1/rules?name=a.yaml", token: adminToken, body: rules, want: 400, field: "name"},
		{op: "putRules", name: "no token", method: "PUT", path: "/v1/rules", body: rules, want: 401, refused: true},
		{op: "putRules", name: "a tenant admin's token", method: "PUT", path: "/v1/rules", token: acmeToken, body: rules, want: 403},
		{op: "putRules", name: "over 4 MiB", method: "PUT", path: "/v1/rules", token: adminToken, body: filesBody("rules.yaml", bigRules), want: 413},
		{op: "putRules", name: "text/plain", method: "PUT", path: "/v1/rules", token: adminToken, ctype: "text/plain", body: conformanceRules, want: 415, refused: true},

		// POST /v1/rules:validate
		{op: "validateRules", name: "a ruleset that compiles", method: "POST", path: "/v1/rules:validate", token: adminToken, body: rules, want: 200},
		{op: "validateRules", name: "one that does not", method: "POST", path: "/v1/rules:validate", token: adminToken, body: broken, want: 200},
		{op: "validateRules", name: "a YAML file", method: "POST", path: "/v1/rules:validate?name=bad.yaml", token: adminToken, ctype: "application/yaml", body: brokenRules, want: 200},
		{op: "validateRules", name: "an if_version", method: "POST", path: "/v1/rules:validate", token: adminToken, body: `{"if_version":"x",` + rules[1:], want: 400, field: "if_version", refused: true},
		{op: "validateRules", name: "no files", method: "POST", path: "/v1/rules:validate", token: adminToken, body: `{"files":[]}`, want: 400, field: "files", refused: true},
		{op: "validateRules", name: "bad JSON", method: "POST", path: "/v1/rules:validate", token: adminToken, body: badJSON, want: 400, refused: true},
		{op: "validateRules", name: "no token", method: "POST", path: "/v1/rules:validate", body: rules, want: 401, refused: true},
		{op: "validateRules", name: "the scoring token", method: "POST", path: "/v1/rules:validate", token: scoringToken, body: rules, want: 403},
		{op: "validateRules", name: "over 4 MiB", method: "POST", path: "/v1/rules:validate", token: adminToken, body: filesBody("rules.yaml", bigRules), want: 413},
		{op: "validateRules", name: "text/plain", method: "POST", path: "/v1/rules:validate", token: adminToken, ctype: "text/plain", body: conformanceRules, want: 415, refused: true},

		// POST /v1/rules:test
		{op: "testRules", name: "the ruleset in force", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":` + attempt + `}`, want: 200},
		{op: "testRules", name: "a candidate", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":{"ip":"81.2.69.160","attributes":{"app":"legacy"}},` + rules[1:], want: 200},
		{op: "testRules", name: "a candidate whose rule fails at run time", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":{"ip":"81.2.69.160"},` + filesBody("f.yaml", "rules:\n  - id: unguarded\n    description: N.\n    when: int(attempt.attributes[\"n\"]) > 3\n    score: 1\n")[1:], want: 200},
		{op: "testRules", name: "no attempt", method: "POST", path: "/v1/rules:test", token: adminToken, body: rules, want: 400, field: "attempt", refused: true},
		{op: "testRules", name: "the attempt's bad address", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":{"ip":"nope"}}`, want: 400, field: "attempt.ip"},
		{op: "testRules", name: "a candidate that does not compile", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":{"ip":"81.2.69.160"},` + broken[1:], want: 400, field: "files"},
		{op: "testRules", name: "bad JSON", method: "POST", path: "/v1/rules:test", token: adminToken, body: badJSON, want: 400, refused: true},
		{op: "testRules", name: "no token", method: "POST", path: "/v1/rules:test", body: `{"attempt":` + attempt + `}`, want: 401, refused: true},
		{op: "testRules", name: "the scoring token", method: "POST", path: "/v1/rules:test", token: scoringToken, body: `{"attempt":` + attempt + `}`, want: 403},
		{op: "testRules", name: "over 4 MiB", method: "POST", path: "/v1/rules:test", token: adminToken, body: `{"attempt":{"ip":"81.2.69.160"},` + filesBody("rules.yaml", bigRules)[1:], want: 413},
		{op: "testRules", name: "text/plain", method: "POST", path: "/v1/rules:test", token: adminToken, ctype: "text/plain", body: `{"attempt":` + attempt + `}`, want: 415, refused: true},

		// POST /v1/rules:backtest (main has scored attempts by now)
		{op: "backtest", name: "no body", method: "POST", path: "/v1/rules:backtest", token: adminToken, want: 200},
		{op: "backtest", name: "html", method: "POST", path: "/v1/rules:backtest?format=html", token: adminToken, want: 200},
		{op: "backtest", name: "text", method: "POST", path: "/v1/rules:backtest?format=text", token: adminToken, want: 200},
		{op: "backtest", name: "every field", method: "POST", path: "/v1/rules:backtest?format=json", token: adminToken, want: 200,
			body: `{"files":[{"name":"a.yaml","content":` + jsonString(conformanceRules) + `}],"baseline_files":[{"name":"b.yaml","content":` + jsonString(kratosRules) + `}],"samples":2,"max_attempts":10}`},
		{op: "backtest", name: "a YAML candidate", method: "POST", path: "/v1/rules:backtest?name=c.yaml", token: adminToken, ctype: "application/yaml", body: conformanceRules, want: 200},
		{op: "backtest", name: "no capture", srv: "open", method: "POST", path: "/v1/rules:backtest", token: adminToken, want: 400},
		{op: "backtest", name: "an empty capture", srv: "bare", method: "POST", path: "/v1/rules:backtest", token: adminToken, want: 400},
		{op: "backtest", name: "an unknown format", method: "POST", path: "/v1/rules:backtest?format=pdf", token: adminToken, want: 400, field: "format", refused: true},
		{op: "backtest", name: "a negative max_attempts", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: `{"max_attempts":-1}`, want: 400, field: "max_attempts", refused: true},
		{op: "backtest", name: "a candidate that does not compile", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: broken, want: 400, field: "files"},
		{op: "backtest", name: "a baseline that does not compile", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: `{"baseline_files":` + broken[len(`{"files":`):], want: 400, field: "baseline_files"},
		{op: "backtest", name: "white space", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: " \n", want: 400, refused: true},
		{op: "backtest", name: "name with JSON", method: "POST", path: "/v1/rules:backtest?name=a.yaml", token: adminToken, body: `{}`, want: 400, field: "name"},
		{op: "backtest", name: "no token", method: "POST", path: "/v1/rules:backtest", want: 401, refused: true},
		{op: "backtest", name: "a tenant admin's token", method: "POST", path: "/v1/rules:backtest", token: acmeToken, want: 403},
		{op: "backtest", name: "over 8 MiB", method: "POST", path: "/v1/rules:backtest", token: adminToken, body: filesBody("rules.yaml", bigBacktest), want: 413},
		{op: "backtest", name: "text/plain", method: "POST", path: "/v1/rules:backtest", token: adminToken, ctype: "text/plain", body: "{}", want: 415, refused: true},
		{op: "backtest", name: "past the timeout", srv: "slow", method: "POST", path: "/v1/rules:backtest", token: adminToken, want: 504,
			before: func(t *testing.T, e *conformanceEnv) {
				if code := httpDo(t, nil, "POST", e.srv["slow"].url("/v1/score"), "", `{"ip":"81.2.69.160"}`, nil); code != 200 {
					t.Fatalf("score on the slow server: %d", code)
				}
			}},

		// POST /v1/rules:promote (main's rules are conformanceRules)
		{op: "promoteRule", name: "a shadow rule", method: "POST", path: "/v1/rules:promote", token: adminToken, header: map[string]string{"If-Match": `"{version}"`}, body: `{"rule_id":"surge-watch"}`, want: 200},
		{op: "promoteRule", name: "an enforced rule", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":"surge-watch"}`, want: 400, field: "rule_id"},
		{op: "promoteRule", name: "no such rule", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":"nope"}`, want: 404, field: "rule_id"},
		{op: "promoteRule", name: "a stale if_version", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":"legacy-app","if_version":"sha256:000000000000"}`, want: 409, field: "if_version"},
		{op: "promoteRule", name: "a stale If-Match", method: "POST", path: "/v1/rules:promote", token: adminToken, header: map[string]string{"If-Match": `"sha256:000000000000"`}, body: `{"rule_id":"legacy-app"}`, want: 412},
		{op: "promoteRule", name: "no rule_id", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{}`, want: 400, field: "rule_id", refused: true},
		{op: "promoteRule", name: "an empty rule_id", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":""}`, want: 400, field: "rule_id", refused: true},
		{op: "promoteRule", name: "bad JSON", method: "POST", path: "/v1/rules:promote", token: adminToken, body: badJSON, want: 400, refused: true},
		{op: "promoteRule", name: "no token", method: "POST", path: "/v1/rules:promote", body: `{"rule_id":"x"}`, want: 401, refused: true},
		{op: "promoteRule", name: "the scoring token", method: "POST", path: "/v1/rules:promote", token: scoringToken, body: `{"rule_id":"x"}`, want: 403},
		{op: "promoteRule", name: "over 64 KiB", method: "POST", path: "/v1/rules:promote", token: adminToken, body: `{"rule_id":"` + big + `"}`, want: 413},
		{op: "promoteRule", name: "text/plain", method: "POST", path: "/v1/rules:promote", token: adminToken, ctype: "text/plain", body: `{"rule_id":"x"}`, want: 415, refused: true},

		// PUT /v1/tenants/{tenant}/rules
		{op: "putTenantRules", name: "files", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: overlay, want: 200},
		{op: "putTenantRules", name: "a YAML file, If-Match", method: "PUT", path: "/v1/tenants/acme/rules?name=acme.yaml", token: adminToken, header: map[string]string{"If-Match": `"{acme}"`}, ctype: "application/yaml", body: conformanceOverlay, want: 200},
		{op: "putTenantRules", name: "a stale if_version", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: `{"if_version":"tenant:acme@sha256:000000000000",` + overlay[1:], want: 409, field: "if_version"},
		{op: "putTenantRules", name: "a weak If-Match", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, header: map[string]string{"If-Match": `W/"{acme}"`}, body: overlay, want: 412},
		{op: "putTenantRules", name: "an overlay that does not compile", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: broken, want: 400, field: "files"},
		{op: "putTenantRules", name: "a tenant name no folder can have", method: "PUT", path: "/v1/tenants/.acme/rules", token: adminToken, body: overlay, want: 400, field: "tenant", refused: true},
		{op: "putTenantRules", name: "bad JSON", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: badJSON, want: 400, refused: true},
		{op: "putTenantRules", name: "no token", method: "PUT", path: "/v1/tenants/acme/rules", body: overlay, want: 401, refused: true},
		{op: "putTenantRules", name: "another tenant's token", method: "PUT", path: "/v1/tenants/acme/rules", token: betaToken, body: overlay, want: 403},
		{op: "putTenantRules", name: "over 4 MiB", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: filesBody("rules.yaml", bigRules), want: 413},
		{op: "putTenantRules", name: "text/plain", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, ctype: "text/plain", body: conformanceOverlay, want: 415, refused: true},

		// GET /v1/tenants/{tenant}/rules
		{op: "getTenantRules", name: "with an overlay", method: "GET", path: "/v1/tenants/acme/rules", token: acmeToken, want: 200},
		{op: "getTenantRules", name: "without one", method: "GET", path: "/v1/tenants/beta/rules", token: adminToken, want: 200},
		{op: "getTenantRules", name: "a tenant name no folder can have", method: "GET", path: "/v1/tenants/.acme/rules", token: adminToken, want: 400, field: "tenant", refused: true},
		{op: "getTenantRules", name: "no token", method: "GET", path: "/v1/tenants/acme/rules", want: 401, refused: true},
		{op: "getTenantRules", name: "another tenant's token", method: "GET", path: "/v1/tenants/acme/rules", token: betaToken, want: 403},

		// POST /v1/tenants/{tenant}/rules:validate
		{op: "validateTenantRules", name: "an overlay that compiles", method: "POST", path: "/v1/tenants/acme/rules:validate", token: acmeToken, body: overlay, want: 200},
		{op: "validateTenantRules", name: "one that does not", method: "POST", path: "/v1/tenants/acme/rules:validate?name=bad.yaml", token: acmeToken, ctype: "application/yaml", body: brokenRules, want: 200},
		{op: "validateTenantRules", name: "an attempt", method: "POST", path: "/v1/tenants/acme/rules:validate", token: acmeToken, body: `{"attempt":{"ip":"81.2.69.160"},` + overlay[1:], want: 400, field: "attempt", refused: true},
		{op: "validateTenantRules", name: "no token", method: "POST", path: "/v1/tenants/acme/rules:validate", body: overlay, want: 401, refused: true},
		{op: "validateTenantRules", name: "another tenant's token", method: "POST", path: "/v1/tenants/acme/rules:validate", token: betaToken, body: overlay, want: 403},
		{op: "validateTenantRules", name: "over 4 MiB", method: "POST", path: "/v1/tenants/acme/rules:validate", token: acmeToken, body: filesBody("rules.yaml", bigRules), want: 413},
		{op: "validateTenantRules", name: "text/plain", method: "POST", path: "/v1/tenants/acme/rules:validate", token: acmeToken, ctype: "text/plain", body: conformanceOverlay, want: 415, refused: true},

		// POST /v1/tenants/{tenant}/rules:promote (acme's overlay is conformanceOverlay)
		{op: "promoteTenantRule", name: "a shadow rule", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"acme-kiosk","if_version":"{acme}"}`, want: 200},
		{op: "promoteTenantRule", name: "an enforced rule", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"acme-kiosk"}`, want: 400, field: "rule_id"},
		{op: "promoteTenantRule", name: "no such rule", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"nope"}`, want: 404, field: "rule_id"},
		{op: "promoteTenantRule", name: "no overlay", method: "POST", path: "/v1/tenants/beta/rules:promote", token: betaToken, body: `{"rule_id":"x"}`, want: 404, field: "rule_id"},
		{op: "promoteTenantRule", name: "a stale If-Match", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, header: map[string]string{"If-Match": `"tenant:acme@sha256:000000000000"`}, body: `{"rule_id":"acme-night"}`, want: 412},
		{op: "promoteTenantRule", name: "a stale if_version", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"acme-night","if_version":"tenant:acme@sha256:000000000000"}`, want: 409, field: "if_version"},
		{op: "promoteTenantRule", name: "no rule_id", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"if_version":"x"}`, want: 400, field: "rule_id", refused: true},
		{op: "promoteTenantRule", name: "no token", method: "POST", path: "/v1/tenants/acme/rules:promote", body: `{"rule_id":"x"}`, want: 401, refused: true},
		{op: "promoteTenantRule", name: "another tenant's token", method: "POST", path: "/v1/tenants/acme/rules:promote", token: betaToken, body: `{"rule_id":"x"}`, want: 403},
		{op: "promoteTenantRule", name: "over 64 KiB", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"` + big + `"}`, want: 413},
		{op: "promoteTenantRule", name: "text/plain", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, ctype: "text/plain", body: `{"rule_id":"x"}`, want: 415, refused: true},

		// The tenants folder gone (kept so to the end: these come last of main's).
		{op: "putTenantRules", name: "the tenants folder gone", method: "PUT", path: "/v1/tenants/acme/rules", token: acmeToken, body: overlay, want: 503, before: goneTenants},
		{op: "getTenantRules", name: "the tenants folder gone: a reload_error", method: "GET", path: "/v1/tenants/acme/rules", token: acmeToken, want: 200},
		{op: "promoteTenantRule", name: "the tenants folder gone", method: "POST", path: "/v1/tenants/acme/rules:promote", token: acmeToken, body: `{"rule_id":"acme-night"}`, want: 503},

		// The operational routes.
		{op: "healthz", name: "live", method: "GET", path: "/healthz", want: 200},
		{op: "healthz", name: "a query", method: "GET", path: "/healthz?verbose=1", want: 400, field: "verbose"},
		{op: "readyz", name: "ready", method: "GET", path: "/readyz", want: 200},
		{op: "readyz", name: "a check failing", method: "GET", path: "/readyz", down: true, want: 503},
		{op: "readyz", name: "a query", method: "GET", path: "/readyz?verbose=1", want: 400, field: "verbose"},
		{op: "metrics", name: "every family", method: "GET", path: "/metrics", want: 200},
		{op: "metrics", name: "some families", method: "GET", path: "/metrics?name[]=riskgate_rules_version_info&name[]=go_goroutines", want: 200},
		{op: "metrics", name: "OpenMetrics", method: "GET", path: "/metrics", header: map[string]string{"Accept": "application/openmetrics-text; version=1.0.0"}, want: 200},
		{op: "metrics", name: "a query", method: "GET", path: "/metrics?name=go_goroutines", want: 400, field: "name"},

		// POST /v1/kratos/login
		{op: "kratosLogin", name: "allowed", srv: "kratos", method: "POST", path: "/v1/kratos/login", token: kratosToken, body: kratosLogin("browser"), want: 204, before: putKratosRules},
		{op: "kratosLogin", name: "denied", srv: "kratos", method: "POST", path: "/v1/kratos/login", token: kratosToken, body: kratosLogin("api"), want: 403},
		{op: "kratosLogin", name: "unreadable: the on-error answer", srv: "kratos", method: "POST", path: "/v1/kratos/login", token: kratosToken, body: `{"flow_id":"f-2","identity_id":"id-1"}`, want: 403, refused: true},
		// In Kratos' format (the document's KratosMessages), with no
		// message, as a wrong token's 401: not riskgate's error body.
		{op: "kratosLogin", name: "a query", srv: "kratos", method: "POST", path: "/v1/kratos/login?tenant=acme", token: kratosToken, body: kratosLogin("browser"), want: 400},
		{op: "kratosLogin", name: "a query without the token", srv: "kratos", method: "POST", path: "/v1/kratos/login?tenant=acme", body: kratosLogin("browser"), want: 401, refused: true},
		{op: "kratosLogin", name: "the admin token", srv: "kratos", method: "POST", path: "/v1/kratos/login", token: adminToken, body: kratosLogin("browser"), want: 401},
		{op: "kratosLogin", name: "no token", srv: "kratos", method: "POST", path: "/v1/kratos/login", body: kratosLogin("browser"), want: 401, refused: true},
	}
}
