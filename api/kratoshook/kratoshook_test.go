package kratoshook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-jsonnet"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testToken = "kratos-hook-token-0123456789"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got: %s\nwant: %s", name, got, want)
	}
}

// renderTemplate evaluates the shipped body template as Kratos does: the
// context as a top-level argument "ctx" (go-jsonnet at Kratos v1.3.1's
// version).
func renderTemplate(t *testing.T, ctxFile string) []byte {
	t.Helper()
	tmpl, err := os.ReadFile("../../deploy/kratos/riskgate-login.jsonnet")
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := os.ReadFile(filepath.Join("testdata", ctxFile))
	if err != nil {
		t.Fatal(err)
	}
	vm := jsonnet.MakeVM()
	vm.TLACode("ctx", string(ctx))
	out, err := vm.EvaluateAnonymousSnippet("riskgate-login.jsonnet", string(tmpl))
	if err != nil {
		t.Fatalf("template on %s: %v", ctxFile, err)
	}
	return []byte(out)
}

// The contexts are what Kratos v1.3.1 passed to a web hook for a password
// login: an API flow behind Cloudflare-style headers, a browser flow with
// no proxy (the address carries its port, the cookies include Kratos' CSRF
// cookie), and a minimal one with the edge cases (no e-mail trait, nulls,
// two devices, IPv6 with a port).
var contexts = []string{"api-flow", "browser-flow", "minimal"}

func TestTemplate(t *testing.T) {
	for _, name := range contexts {
		t.Run(name, func(t *testing.T) {
			out := renderTemplate(t, "ctx-"+name+".json")
			golden(t, "body-"+name+".golden.json", out)
			if bytes.Contains(out, []byte("csrf_token")) || bytes.Contains(out, []byte("traits")) {
				t.Errorf("the body carries more than riskgate needs: %s", out)
			}
		})
	}
}

// scorerStub records the attempt and answers a fixed verdict.
type scorerStub struct {
	got     []Attempt
	verdict Verdict
	err     error
}

func (s *scorerStub) ScoreLogin(_ context.Context, a Attempt) (Verdict, error) {
	s.got = append(s.got, a)
	return s.verdict, s.err
}

func post(t *testing.T, h http.Handler, token string, body []byte) (int, []byte) {
	t.Helper()
	return postQuery(t, h, token, "", body)
}

// postQuery is post to the hook's url with query (none when empty).
func postQuery(t *testing.T, h http.Handler, token, query string, body []byte) (int, []byte) {
	t.Helper()
	target := "/kratos/login"
	if query != "" {
		target += "?" + query
	}
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// TestAttempt: what each rendered body becomes.
func TestAttempt(t *testing.T) {
	want := map[string]Attempt{
		"api-flow": {AttemptID: "kratos:03c90afe-b6aa-4b00-aabb-80ebb35e1279:2026-12-03T21:23:43.993180291Z",
			UserID: "e49ec341-b735-41a4-99f2-6b0343c689cf", Username: "alice@example.com", IP: "81.2.69.160",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", DeviceID: "dev-home-123", Country: "GB",
			Channel: "api", Tenant: "acme", Attributes: map[string]string{"kratos.flow_type": "api", "kratos.aal": "aal1"}},
		"browser-flow": {UserID: "e49ec341-b735-41a4-99f2-6b0343c689cf", Username: "alice@example.com", IP: "127.0.0.1",
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
			DeviceID:  "dev-laptop-9", Channel: "web", Tenant: "acme", Attributes: map[string]string{"kratos.flow_type": "browser", "kratos.aal": "aal1"}},
		"minimal": {AttemptID: "kratos:6a1f0c3e-2b7d-4c11-9b5e-0d3f6e2a9c10", UserID: "3f2b9a71-5c0e-4d6a-8e1b-7a9c2d4e6f80",
			Username: "bob", IP: "2001:db8::7", UserAgent: "okhttp/4.12.0", Country: "FR", Channel: "web", Tenant: "acme",
			Attributes: map[string]string{"kratos.flow_type": "browser"}},
	}
	for _, name := range contexts {
		t.Run(name, func(t *testing.T) {
			s := &scorerStub{verdict: Verdict{Action: Allow}}
			h, err := New(Options{Scorer: s, Token: testToken, Tenant: "acme", Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			code, _ := post(t, h, testToken, renderTemplate(t, "ctx-"+name+".json"))
			if code != http.StatusNoContent || len(s.got) != 1 {
				t.Fatalf("status %d, %d scores", code, len(s.got))
			}
			got, w := s.got[0], want[name]
			if name == "browser-flow" {
				if !strings.HasPrefix(got.AttemptID, "kratos:") || len(got.AttemptID) < 60 {
					t.Errorf("attempt id %q", got.AttemptID)
				}
				w.AttemptID = got.AttemptID
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("attempt\n got %+v\nwant %+v", got, w)
			}
		})
	}
}

// TestAnswers: each verdict as Kratos receives it. The golden answers are
// in the shape Kratos parses (selfservice/hook/web_hook.go: messages,
// instance_ptr, id, text, type, context).
func TestAnswers(t *testing.T) {
	body := renderTemplate(t, "ctx-api-flow.json")
	cases := []struct {
		name    string
		opts    Options
		verdict Verdict
		err     error
		token   string
		query   string // in the hook's url
		body    []byte
		status  int
		golden  string
		scored  bool
	}{
		{name: "allow", verdict: Verdict{Action: Allow, DecisionID: "01KAV2X0M8Q6E4W9S1B3N7T5YC"}, status: 204, scored: true},
		{name: "deny", verdict: Verdict{Action: Deny, DecisionID: "01KAV2X0M8Q6E4W9S1B3N7T5YC"}, status: 403, golden: "answer-deny.golden.json", scored: true},
		{name: "step_up interrupts", verdict: Verdict{Action: StepUp, DecisionID: "01KAV2X0M8Q6E4W9S1B3N7T5YC"}, status: 403, golden: "answer-step-up.golden.json", scored: true},
		{name: "step_up allowed", opts: Options{StepUp: StepUpAllow}, verdict: Verdict{Action: StepUp}, status: 204, scored: true},
		{name: "failover deny", verdict: Verdict{Action: Deny, Failover: true}, err: errors.New("riskgate: timeout"), status: 403, golden: "answer-unavailable.golden.json", scored: true},
		{name: "scorer error, default", err: errors.New("boom"), status: 403, golden: "answer-step-up-failover.golden.json", scored: true},
		{name: "scorer error, allow", opts: Options{OnError: Allow}, err: errors.New("boom"), status: 204, scored: true},
		{name: "custom message", opts: Options{DenyMessage: Message{ID: 7, Text: "Nope."}}, verdict: Verdict{Action: Deny}, status: 403, golden: "answer-deny-custom.golden.json", scored: true},
		{name: "no token", token: "-", verdict: Verdict{Action: Allow}, status: 401, golden: "answer-unauthorized.golden.json"},
		{name: "wrong token", token: "kratos-hook-token-0123456780", verdict: Verdict{Action: Allow}, status: 401, golden: "answer-unauthorized.golden.json"},
		{name: "unreadable body", body: []byte(`{"flow_id": 12}`), verdict: Verdict{Action: Allow}, status: 403, golden: "answer-step-up-failover.golden.json"},
		{name: "bad ip", body: []byte(`{"flow_id":"f","identity_id":"i","ip":"not-an-ip:80"}`), opts: Options{OnError: Deny}, verdict: Verdict{Action: Allow}, status: 403, golden: "answer-unavailable.golden.json"},
		// A hook url with a query (a configuration mistake): refused in
		// Kratos' format, with no message, as a wrong token is, whatever
		// the OnError answer; not scored.
		{name: "a query", query: "tenant=acme", opts: Options{OnError: Allow}, verdict: Verdict{Action: Allow}, status: 400, golden: "answer-query.golden.json"},
		{name: "a query that does not parse", query: "a=%zz;b", verdict: Verdict{Action: Allow}, status: 400, golden: "answer-query.golden.json"},
		{name: "a query without the token", token: "-", query: "tenant=acme", verdict: Verdict{Action: Allow}, status: 401, golden: "answer-unauthorized.golden.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scorerStub{verdict: tc.verdict, err: tc.err}
			o := tc.opts
			o.Scorer, o.Token, o.Logger = s, testToken, quiet
			h, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			token := tc.token
			switch token {
			case "":
				token = testToken
			case "-":
				token = ""
			}
			b := tc.body
			if b == nil {
				b = body
			}
			status, answer := postQuery(t, h, token, tc.query, b)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, answer)
			}
			if (len(s.got) == 1) != tc.scored {
				t.Errorf("scored %d times", len(s.got))
			}
			if tc.golden == "" {
				if len(answer) != 0 {
					t.Errorf("body on %d: %s", status, answer)
				}
				return
			}
			golden(t, tc.golden, answer)
			var parsed struct { // Kratos' rawHookResponse
				Messages []struct {
					InstancePtr string `json:"instance_ptr"`
					Messages    []struct {
						ID      int             `json:"id"`
						Text    string          `json:"text"`
						Type    string          `json:"type"`
						Context json.RawMessage `json:"context"`
					} `json:"messages"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(answer, &parsed); err != nil {
				t.Fatalf("Kratos could not read the answer: %v", err)
			}
			if status == 403 && (len(parsed.Messages) != 1 || parsed.Messages[0].InstancePtr != "#/" || len(parsed.Messages[0].Messages) != 1 || parsed.Messages[0].Messages[0].Type != "error") {
				t.Errorf("an interruption Kratos would not show on the form: %s", answer)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	s := ScorerFunc(func(context.Context, Attempt) (Verdict, error) { return Verdict{}, nil })
	cases := []struct {
		o    Options
		want string
	}{
		{Options{Token: testToken}, "Scorer"},
		{Options{Scorer: s}, "Token"},
		{Options{Scorer: s, Token: "short"}, "Token"},
		{Options{Scorer: s, Token: testToken, OnError: "block"}, "OnError"},
		{Options{Scorer: s, Token: testToken, StepUp: 7}, "StepUp"},
	}
	for _, tc := range cases {
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.o, err, tc.want)
		}
	}
}

func TestMethod(t *testing.T) {
	h, _ := New(Options{Scorer: &scorerStub{}, Token: testToken, Logger: quiet})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d", rec.Code)
	}
}

// FuzzHandler: any body gets a Kratos answer, never a panic.
func FuzzHandler(f *testing.F) {
	for _, name := range contexts {
		b, err := os.ReadFile(filepath.Join("testdata", "body-"+name+".golden.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"flow_id":"f","identity_id":"i","ip":"[::1]:80","location":","}`))
	h, _ := New(Options{Scorer: &scorerStub{verdict: Verdict{Action: Deny}}, Token: testToken, Logger: quiet})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent && rec.Code != http.StatusForbidden {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

// TestUnreadableBodyIsNamed: a body the hook cannot read is logged saying
// what is wrong with it, as the API says it: an empty one (a template
// that renders nothing) names the fields the hook needs, where it once
// logged only "body: EOF"; the login gets the OnError answer.
func TestUnreadableBodyIsNamed(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "kratoshook: body: empty, want a JSON object with flow_id, identity_id and ip (required)"},
		{"white space", []byte(" \n\t"), "kratoshook: body: empty, want a JSON object with flow_id, identity_id and ip (required)"},
		{"too large", []byte(`{"flow_id":"` + strings.Repeat("a", maxBody) + `"}`), fmt.Sprintf("kratoshook: body: larger than %d bytes", maxBody)},
		{"no identity", []byte(`{"flow_id":"f"}`), "kratoshook: body: identity_id: required"},
		{"no flow", []byte(`{"identity_id":"i","ip":"81.2.69.160"}`), "kratoshook: body: flow_id: required"},
		{"null", []byte(`null`), "kratoshook: body: flow_id and identity_id: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged bytes.Buffer
			s := &scorerStub{verdict: Verdict{Action: Allow}}
			h, err := New(Options{Scorer: s, Token: testToken, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatal(err)
			}
			status, answer := post(t, h, testToken, tc.body)
			if status != http.StatusForbidden || len(s.got) != 0 {
				t.Fatalf("status %d (%d scored): %s, want the OnError step-up, unscored", status, len(s.got), answer)
			}
			if !strings.Contains(logged.String(), strconv.Quote(tc.want)) {
				t.Errorf("logged %q, want %q", logged.String(), tc.want)
			}
		})
	}
}

// TestHostileFields: what the person logging in chose and Kratos passes on
// (a User-Agent header of hundreds of KiB, a long device cookie, a control
// character in the identifier) is scored, cleaned as riskgate's client
// cleans it. A body too large for the hook, or a field riskgate refused,
// got the OnError answer, which with StepUpAllow let the login in.
func TestHostileFields(t *testing.T) {
	body, err := json.Marshal(map[string]string{
		"flow_id": "f-1", "identity_id": "i-1", "ip": "81.2.69.160",
		"user_agent": strings.Repeat("A", 200<<10), "device_id": strings.Repeat("d", 300), "username": "mal\x01lory",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &scorerStub{verdict: Verdict{Action: Deny}}
	h, err := New(Options{Scorer: s, Token: testToken, OnError: Allow, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if status, answer := post(t, h, testToken, body); status != http.StatusForbidden || len(s.got) != 1 {
		t.Fatalf("status %d (%d scored): %s, want riskgate's deny", status, len(s.got), answer)
	}
	a := s.got[0]
	if len(a.UserAgent) != 1024 || !strings.HasPrefix(a.DeviceID, "sha256:") || a.Username != "mal\uFFFDlory" {
		t.Errorf("not cleaned: user agent %d bytes, device id %.80q, username %q", len(a.UserAgent), a.DeviceID, a.Username)
	}
}

// TestStepUpAllowWarns: StepUpAllow with OnError StepUp lets in the logins
// riskgate could not decide; New says so.
func TestStepUpAllowWarns(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		warn bool
	}{
		{Options{StepUp: StepUpAllow}, true},
		{Options{StepUp: StepUpAllow, OnError: StepUp}, true},
		{Options{StepUp: StepUpAllow, OnError: Deny}, false},
		{Options{OnError: StepUp}, false},
	} {
		var logged bytes.Buffer
		tc.o.Scorer, tc.o.Token, tc.o.Logger = &scorerStub{}, testToken, slog.New(slog.NewTextHandler(&logged, nil))
		if _, err := New(tc.o); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logged.String(), "level=WARN") && strings.Contains(logged.String(), "OnError"); got != tc.warn {
			t.Errorf("step-up %d, on error %q: warned %v: %s", tc.o.StepUp, tc.o.OnError, got, logged.String())
		}
	}
}

// TestClientIP: Kratos' ip_address as riskgate takes it. A link-local
// client's connection address carries its zone ("[fe80::1%eth0]:443"),
// which riskgate refuses: the hook answered every such login with OnError.
func TestClientIP(t *testing.T) {
	cases := []struct{ in, want string }{
		{"81.2.69.160", "81.2.69.160"},
		{"198.51.100.7:34308", "198.51.100.7"},
		{"[2001:db8::7]:443", "2001:db8::7"},
		{"::ffff:81.2.69.160", "81.2.69.160"},
		{"[::ffff:81.2.69.160]:443", "81.2.69.160"},
		{"fe80::1%eth0", "fe80::1"},
		{"[fe80::1%eth0]:443", "fe80::1"},
		{"", ""},
		{"not-an-address", ""},
		{"not-an-address:443", ""},
	}
	for _, tc := range cases {
		got, err := clientIP(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("clientIP(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestQueryIsNamed: a hook url with a query is refused (TestAnswers), and
// the log names its parameters, not their values, for whoever fixes
// Kratos' configuration: Kratos itself shows only "web hook failed".
func TestQueryIsNamed(t *testing.T) {
	var logged bytes.Buffer
	s := &scorerStub{verdict: Verdict{Action: Allow}}
	h, err := New(Options{Scorer: s, Token: testToken, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	status, answer := postQuery(t, h, testToken, "tenant=acme&flow%5Fid=secret-value", renderTemplate(t, "ctx-api-flow.json"))
	if status != http.StatusBadRequest || len(s.got) != 0 {
		t.Fatalf("status %d (%d scored): %s, want 400, unscored", status, len(s.got), answer)
	}
	log := logged.String()
	if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, `parameters="\"tenant\", \"flow_id\""`) {
		t.Errorf("the log does not name the parameters: %s", log)
	}
	if strings.Contains(log, "acme") || strings.Contains(log, "secret-value") {
		t.Errorf("the log shows a parameter's value: %s", log)
	}
}
