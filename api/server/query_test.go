package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestScoreQueryIsChecked: ?omit_signals= that is not one boolean is a 400
// naming it, before the attempt is counted, rather than read as false.
func TestScoreQueryIsChecked(t *testing.T) {
	ts := startServer(t, testOpts{})
	attempt := map[string]any{"tenant": "qcheck", "ip": "81.2.69.160", "user_id": "u-1"}
	type decision struct {
		Signals *struct {
			Tenant struct {
				Attempts10m int `json:"attempts_10m"`
			} `json:"tenant"`
		} `json:"signals"`
	}
	cases := []struct {
		query    string
		code     int
		signals  bool
		attempts int // the tenant's attempts counted, this one included
	}{
		{"", 200, true, 1},
		{"?omit_signals=yes", 400, false, 0},
		{"?omit_signals=", 400, false, 0},
		{"?omit_signals=true&omit_signals=false", 400, false, 0}, // which one?
		{"?omit_signals=false", 200, true, 2},
		{"?omit_signals=true", 200, false, 0},
		{"?omit_signals=0", 200, true, 4},
		// Python's requests sends True for True: read as it always was.
		{"?omit_signals=True", 200, false, 0},
	}
	for _, c := range cases {
		var d decision
		var e apiError
		out := any(&d)
		if c.code != 200 {
			out = &e
		}
		code := httpDo(t, nil, "POST", ts.url("/v1/score"+c.query), "", attempt, out)
		if code != c.code {
			t.Fatalf("%q: %d, want %d", c.query, code, c.code)
		}
		if c.code != 200 {
			// The message lists what is accepted: it once said "true or
			// false" while 1, 0, t and TRUE were read as booleans too.
			want := "true or false, 1 or 0, t or f, in any case"
			if strings.Contains(c.query, "&") {
				want = "given 2 times, want it once"
			}
			if e.Error.Field != "omit_signals" || !strings.Contains(e.Error.Message, want) {
				t.Errorf("%q: error %+v, want one naming omit_signals", c.query, e.Error)
			}
			continue
		}
		if (d.Signals != nil) != c.signals {
			t.Errorf("%q: signals in the answer %v, want %v", c.query, d.Signals != nil, c.signals)
		}
		if d.Signals != nil && d.Signals.Tenant.Attempts10m != c.attempts {
			t.Errorf("%q: tenant.attempts_10m %d, want %d (a refused request must not be counted)", c.query, d.Signals.Tenant.Attempts10m, c.attempts)
		}
	}
}

// TestUnknownQueryIsRefused: a query parameter a route does not take is a
// 400 naming it, on every route, before anything is done: a misspelt
// ?before_password was ignored, and the login left the pending decision
// (and the held notification) its caller meant to avoid.
func TestUnknownQueryIsRefused(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, capture: true, tenantTokens: map[string]string{"acme": "acme-admin-token-0123456789abcdef"}})
	attempt := map[string]any{"tenant": "qtypo", "ip": "81.2.69.160", "user_id": "u-1"}
	for _, q := range []struct{ query, field, near string }{
		{"?beforePassword=true", "beforePassword", "before_password"},
		{"?before_pasword=1", "before_pasword", "before_password"},
		{"?omit_signal=true", "omit_signal", "omit_signals"},
	} {
		var e apiError
		if code := httpDo(t, nil, "POST", ts.url("/v1/score"+q.query), "", attempt, &e); code != http.StatusBadRequest ||
			e.Error.Field != q.field || !strings.Contains(e.Error.Message, `did you mean "`+q.near+`"?`) {
			t.Errorf("%s: %d %+v, want 400 naming %s, suggesting %s", q.query, code, e.Error, q.field, q.near)
		}
	}
	if n := ts.metricValue(t, "riskgate_decisions_total", "tenant", "qtypo"); n != 0 {
		t.Errorf("%v decisions of refused requests, want none: a refused request is not scored", n)
	}
	if code := httpDo(t, nil, "POST", ts.url("/v1/score?before_password=true&omit_signals=1"), "", attempt, nil); code != http.StatusOK {
		t.Fatalf("the parameters spelt right: %d", code)
	}
	if n := ts.metricValue(t, "riskgate_decisions_total", "tenant", "qtypo"); n != 1 {
		t.Errorf("%v decisions, want the one accepted", n)
	}
	// Every route the server serves, whatever its level (the admin token
	// passes them all).
	routes := ts.srv.Routes()
	if len(routes) < 15 {
		t.Fatalf("only %d routes served", len(routes))
	}
	for _, r := range routes {
		method, path, _ := strings.Cut(r.Pattern(), " ")
		path = strings.NewReplacer("{tenant}", "acme", "{user}", "u-1").Replace(path)
		req, _ := http.NewRequest(method, ts.url(path+"?nope=1"), nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusBadRequest || e.Error.Field != "nope" || !strings.Contains(e.Error.Message, `query parameter "nope": unknown`) {
			t.Errorf("%s ?nope=1: %d %+v (%v), want 400 naming nope", r.Pattern(), resp.StatusCode, e.Error, err)
		}
	}
}

// TestNameOnlyWithYAML: ?name= names the file of a YAML body; with a JSON
// body, which names its files itself, it would be ignored, and is refused
// naming it.
func TestNameOnlyWithYAML(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, capture: true})
	yamlRules := "rules:\n  - id: r1\n    when: attempt.failed\n    action: step_up\n"
	jsonRules := `{"files":[{"name":"a.yaml","content":` + strconvQuote(yamlRules) + `}]}`
	for _, tc := range []struct {
		method, path, contentType, body string
		code                            int
	}{
		{"POST", "/v1/rules:validate?name=mine.yaml", "application/yaml", yamlRules, http.StatusOK},
		{"POST", "/v1/rules:validate?name=mine.yaml", "application/json", jsonRules, http.StatusBadRequest},
		{"PUT", "/v1/rules?name=mine.yaml", "application/json", jsonRules, http.StatusBadRequest},
		{"POST", "/v1/rules:backtest?name=mine.yaml", "application/json", `{}`, http.StatusBadRequest},
		{"POST", "/v1/rules:backtest?name=mine.yaml", "", ``, http.StatusBadRequest},
	} {
		code, data := adminRaw(t, tc.method, ts.url(tc.path), tc.contentType, tc.body)
		if code != tc.code {
			t.Errorf("%s %s (%s): %d %s, want %d", tc.method, tc.path, tc.contentType, code, data, tc.code)
			continue
		}
		if code == http.StatusBadRequest {
			var e apiError
			if err := json.Unmarshal(data, &e); err != nil || e.Error.Field != "name" || !strings.Contains(e.Error.Message, "YAML body") {
				t.Errorf("%s %s (%s): %s, want an error naming name", tc.method, tc.path, tc.contentType, data)
			}
		}
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
