package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/api/client"
	"github.com/riskgate/riskgate/api/client/clienttest"
)

// shared is the riskgate the examples and the read-mostly tests use.
var shared *clienttest.Server

func TestMain(m *testing.M) {
	clienttest.Main(m, func() func() {
		var err error
		if shared, err = clienttest.Launch(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		riskgateTarget = shared.GRPC
		return shared.Kill
	})
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// transports runs a test over gRPC and over HTTP/JSON.
var transports = []struct {
	name   string
	target func(*clienttest.Server) string
}{
	{"grpc", func(s *clienttest.Server) string { return s.GRPC }},
	{"http", func(s *clienttest.Server) string { return s.HTTP }},
}

// newClient makes a client with a deadline generous enough for a loaded
// test machine: these tests are about answers, not speed.
func newClient(t *testing.T, o client.Options) *client.Client {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Failover == client.ActionNone {
		o.Failover = client.StepUp
	}
	o.Logger = quiet
	c, err := client.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var (
	london = &client.GeoHint{Country: "GB", HasCoordinates: true, Lat: 51.5072, Lon: -0.1276}
	tokyo  = &client.GeoHint{Country: "JP", HasCoordinates: true, Lat: 35.6762, Lon: 139.6503}
)

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"

// TestTwoPointLogin plays a user's home login and a takeover attempt from
// another continent through both scoring points and the outcome helpers.
func TestTwoPointLogin(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClient(t, client.Options{Target: tr.target(shared), Tenant: fmt.Sprintf("two-point-%s-%d", tr.name, time.Now().UnixNano())}) // a tenant per run: -count=N replays the same attempt IDs
			home := client.Attempt{
				UserID: "u-alice", Username: "alice@example.com", IP: "81.2.69.160", UserAgent: chromeUA,
				DeviceID: "dev-home", Password: client.HashPassword("correct horse battery staple"), Geo: london,
			}

			// A new user at home: allowed and learned at once.
			home.AttemptID = "home-1"
			before, err := c.BeforePassword(ctx, home)
			if err != nil || before.Failover || before.Action != client.Allow {
				t.Fatalf("home, before the password: %+v, %v", before, err)
			}
			if before.AttemptID != "home-1:before" || before.DecisionID == "" || before.RulesVersion == "" {
				t.Errorf("home, before: ids %q %q, rules %q", before.AttemptID, before.DecisionID, before.RulesVersion)
			}
			// The login acts on AfterPassword's decision and reports its
			// outcome: riskgate holds nothing for this one.
			if before.AwaitsOutcome() {
				t.Error("BeforePassword's decision awaits an outcome; AfterPassword's is reported")
			}
			var fe *client.FieldError
			if err := c.LoginSucceeded(ctx, before); !errors.As(err, &fe) || fe.Field != "outcome" {
				t.Errorf("LoginSucceeded of BeforePassword's decision: %v, want a FieldError", err)
			}
			var held *client.Error
			if err := c.ReportByID(ctx, "", before.DecisionID, client.LoginSucceeded); !errors.As(err, &held) || held.Code != "NOT_FOUND" {
				t.Errorf("riskgate held BeforePassword's decision for an outcome: %v, want NOT_FOUND", err)
			}
			after, err := c.AfterPassword(ctx, home, client.PasswordOK)
			if err != nil || after.Failover || after.Action != client.Allow || after.AttemptID != "home-1:after" {
				t.Fatalf("home, after the password: %+v, %v", after, err)
			}
			if after.AwaitsOutcome() {
				t.Error("an allowed login with the right password awaits an outcome; riskgate learned it already")
			}
			if err := c.LoginSucceeded(ctx, after); err != nil {
				t.Fatalf("LoginSucceeded: %v", err)
			}
			if got := c.Stats().Reports; got != 0 {
				t.Errorf("a report was sent for a settled decision: %d", got)
			}

			// The same password from Tokyo on a new device an hour later.
			thief := home
			thief.AttemptID, thief.IP, thief.DeviceID, thief.Geo = "thief-1", "126.1.2.3", "dev-thief", tokyo
			after, err = c.AfterPassword(ctx, thief, client.PasswordOK)
			if err != nil || after.Failover {
				t.Fatalf("thief: %+v, %v", after, err)
			}
			if after.Action != client.StepUp || !after.Matched("new-device") || !after.Tagged("account_takeover") {
				t.Fatalf("thief: want step_up with new-device, got %v %+v", after.Action, after.Reasons)
			}
			if err := c.LoginSucceeded(ctx, after); err == nil {
				t.Error("LoginSucceeded after a step_up was accepted")
			}
			if !after.AwaitsOutcome() {
				t.Fatal("a step-up does not await its outcome")
			}
			if err := c.StepUpFailed(ctx, after); err != nil {
				t.Fatalf("StepUpFailed: %v", err)
			}
			if got := c.Stats().Reports; got != 1 {
				t.Errorf("reports delivered: %d, want 1", got)
			}
			// riskgate takes one outcome per decision: NOT_FOUND, naming
			// decision_id over both transports (gRPC's in a BadRequest).
			err = c.StepUpPassed(ctx, after)
			var e *client.Error
			if !errors.As(err, &e) || e.Cause != client.CauseRejected || e.Code != "NOT_FOUND" || e.Field != "decision_id" {
				t.Errorf("second outcome for one decision: %v (field %q), want rejected, NOT_FOUND, decision_id", err, fieldOf(e))
			}
		})
	}
}

// TestSignals asks for the feature values; over HTTP they are read from
// riskgate's JSON into the same protobuf messages as over gRPC.
func TestSignals(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClient(t, client.Options{Target: tr.target(shared), Signals: true, Tenant: "signals-" + tr.name})
			a := client.Attempt{UserID: "u-bob", Username: "bob", IP: "81.2.69.160", DeviceID: "d1", Geo: london, Password: client.HashPassword("a long unusual passphrase")}
			if d, err := c.AfterPassword(ctx, a, client.PasswordOK); err != nil || d.Signals == nil || d.Action != client.Allow {
				t.Fatalf("%+v, %v", d, err)
			}
			a.DeviceID, a.Password = "d2", client.HashPassword("123456")
			d, err := c.AfterPassword(ctx, a, client.PasswordOK)
			if err != nil {
				t.Fatal(err)
			}
			s := d.Signals
			if !s.GetDevice().GetNew() || !s.GetUser().GetKnown() || s.GetPassword().GetStatus() != "breached" || s.GetAttempt().GetResult() != "password_ok" {
				t.Errorf("signals: device %v, user %v, password %v, attempt %v", s.GetDevice(), s.GetUser(), s.GetPassword(), s.GetAttempt())
			}
			if !d.Matched("breached-password-login") || d.Action != client.StepUp {
				t.Errorf("123456 logged in: %v %+v", d.Action, d.Reasons)
			}

			plain := newClient(t, client.Options{Target: tr.target(shared), Tenant: "signals-" + tr.name})
			if d, err := plain.AfterPassword(ctx, a, client.PasswordOK); err != nil || d.Signals != nil {
				t.Errorf("signals sent without being asked for: %v", err)
			}
		})
	}
}

// TestIdempotentAttemptID is the premise of the client's retries: the same
// attempt_id gets the same decision back.
func TestIdempotentAttemptID(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, client.Options{Target: shared.GRPC, Tenant: "idempotent"})
	a := client.Attempt{AttemptID: "retry-me", UserID: "u-1", Username: "u1", IP: "81.2.69.160"}
	first, err := c.Score(ctx, a, client.PasswordBad)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Score(ctx, a, client.PasswordBad)
	if err != nil || again.DecisionID != first.DecisionID {
		t.Fatalf("retry got %q, first %q (%v)", again.DecisionID, first.DecisionID, err)
	}
	// Without an id the client makes one per call.
	a.AttemptID = ""
	x, _ := c.Score(ctx, a, client.PasswordBad)
	y, _ := c.Score(ctx, a, client.PasswordBad)
	if x.AttemptID == "" || x.AttemptID == y.AttemptID || x.DecisionID == y.DecisionID {
		t.Errorf("generated attempt ids: %q %q", x.AttemptID, y.AttemptID)
	}
}

// TestRejected: requests riskgate refuses fail over with the cause
// "rejected" and the field named, and never open the circuit (riskgate is
// up; the caller has a bug).
func TestRejected(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("scoring-token-0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	rg := clienttest.Start(t, "--scoring-token-file", tokenFile)
	tooMany := map[string]string{}
	for i := range 40 {
		tooMany[fmt.Sprint("k", i)] = "v"
	}
	for _, tr := range transports {
		cases := []struct {
			name      string
			token     string
			attempt   client.Attempt
			field     string
			code      string
			sent      bool
			wantError bool
		}{
			{name: "ok", token: "scoring-token-0123456789abcdef", attempt: client.Attempt{IP: "81.2.69.160"}, sent: true},
			{name: "no token", attempt: client.Attempt{IP: "81.2.69.160"}, code: "UNAUTHENTICATED", sent: true, wantError: true},
			{name: "bad field", token: "scoring-token-0123456789abcdef", attempt: client.Attempt{IP: "81.2.69.160", Attributes: tooMany}, field: "attributes", code: "INVALID_ARGUMENT", sent: true, wantError: true},
			{name: "bad ip, not sent", token: "scoring-token-0123456789abcdef", attempt: client.Attempt{IP: "81.2.69.999"}, field: "ip", wantError: true},
			// 250 bytes, 257 with BeforePassword's ":before": refused here,
			// not by riskgate.
			{name: "attempt id too long with its suffix, not sent", token: "scoring-token-0123456789abcdef", attempt: client.Attempt{IP: "81.2.69.160", AttemptID: strings.Repeat("a", 250)}, field: "attempt_id", wantError: true},
		}
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				obs := &recorder{}
				c := newClient(t, client.Options{Target: tr.target(rg), Token: tc.token, Failover: client.Deny, Observer: obs,
					Breaker: client.BreakerOptions{Failures: 2}})
				for range 5 {
					d, err := c.BeforePassword(context.Background(), tc.attempt)
					if !tc.wantError {
						if err != nil || d.Failover {
							t.Fatalf("%+v, %v", d, err)
						}
						continue
					}
					if !d.Failover || d.Cause != client.CauseRejected || d.Action != client.Deny {
						t.Fatalf("decision %+v", d)
					}
					var (
						e  *client.Error
						fe *client.FieldError
					)
					switch {
					case errors.As(err, &e):
						if e.Field != tc.field || e.Code != tc.code {
							t.Errorf("error %v: field %q code %q, want %q %q", err, e.Field, e.Code, tc.field, tc.code)
						}
					case errors.As(err, &fe):
						if fe.Field != tc.field || tc.sent {
							t.Errorf("field error %v, want field %q", err, tc.field)
						}
					default:
						t.Errorf("error %T %v", err, err)
					}
				}
				if c.Breaker() != client.BreakerClosed {
					t.Errorf("refused requests opened the circuit")
				}
				calls := obs.calls()
				if len(calls) != 5 {
					t.Fatalf("observer saw %d calls", len(calls))
				}
				if wantTries := map[bool]int{true: 1, false: 0}[tc.sent]; calls[0].Tries != wantTries {
					t.Errorf("tries %d, want %d", calls[0].Tries, wantTries)
				}
			})
		}
	}
}

func TestOptions(t *testing.T) {
	cases := []struct {
		name string
		o    client.Options
		want string
	}{
		{"no target", client.Options{Failover: client.Allow}, "Options.Target"},
		{"no failover", client.Options{Target: "127.0.0.1:9090"}, "Options.Failover"},
		{"bad failover", client.Options{Target: "127.0.0.1:9090", Failover: client.Action(9)}, "Options.Failover"},
		{"negative timeout", client.Options{Target: "127.0.0.1:9090", Failover: client.Deny, Timeout: -1}, "negative"},
		{"bad url", client.Options{Target: "http://", Failover: client.Deny}, "Options.Target"},
		// The paths and the client's own parameters are appended to it.
		{"url with a query", client.Options{Target: "http://riskgate:8080?tenant=acme", Failover: client.Deny}, "without a query"},
		{"url with an empty query", client.Options{Target: "http://riskgate:8080/?", Failover: client.Deny}, "without a query"},
		{"url with a fragment", client.Options{Target: "https://riskgate/api#v1", Failover: client.Deny}, "without a query or fragment"},
		{"tls over http", client.Options{Target: "http://riskgate:8080", Failover: client.Deny, TLS: &tls.Config{}}, "Options.TLS"},
		// The caller's client would dial without it: a private CA, a
		// client certificate, dropped without a word.
		// Never sent (no header carries it): every call failed, as
		// riskgate's fault. The error names the option, not the token.
		{"token with a line break", client.Options{Target: "127.0.0.1:9090", Failover: client.Deny, Token: "scoring\ntoken"}, "Options.Token: holds a control character"},
		{"tls with an http client", client.Options{Target: "https://riskgate:8443", Failover: client.Deny, TLS: &tls.Config{}, HTTPClient: &http.Client{}}, "Options.HTTPClient"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.New(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// TestHostileFields: what the person logging in controls (a 70 KB
// User-Agent header, a long device cookie, a username with a newline or
// bad UTF-8) is cleaned before it is sent, so riskgate judges the login
// instead of refusing it, which made it fail over: a brute force with a
// long User-Agent got the failover action and its failures never counted.
// The outcome of a failover decision, which sends the attempt, is accepted
// too.
func TestHostileFields(t *testing.T) {
	hostile := []client.Attempt{
		{UserID: "u-h1", Username: "mallory", IP: "81.2.69.160", UserAgent: strings.Repeat("A", 70<<10)},
		{UserID: "u-h2", Username: "mallory", IP: "81.2.69.160", UserAgent: strings.Repeat("é", 600) + "\x00"},
		{UserID: "u-h3", Username: "mallory", IP: "81.2.69.160", DeviceID: strings.Repeat("d", 300)},
		{UserID: "u-h4", Username: "mal\nlory\x7f", IP: "81.2.69.160"},
		{UserID: "u-h5", Username: "mal\xfflory" + strings.Repeat("m", 300), IP: "81.2.69.160", DeviceID: "\xc3("},
	}
	down := newClient(t, client.Options{Target: refusedAddr(t), Failover: client.Allow, Timeout: time.Second})
	for _, tr := range transports {
		c := newClient(t, client.Options{Target: tr.target(shared), Tenant: fmt.Sprintf("hostile-%s-%d", tr.name, time.Now().UnixNano()), Failover: client.Allow})
		for i, a := range hostile {
			for _, r := range []client.Result{client.ResultUnknown, client.PasswordBad} {
				d, err := c.Score(context.Background(), a, r)
				if err != nil || d.Failover {
					t.Errorf("%s: attempt %d, %v: %+v, %v", tr.name, i, r, d, err)
				}
			}
			d, _ := down.AfterPassword(context.Background(), a, client.PasswordBad)
			if !d.Failover {
				t.Fatalf("%+v", d)
			}
			if err := c.LoginFailed(context.Background(), d); err != nil {
				t.Errorf("%s: attempt %d: the failover's outcome: %v", tr.name, i, err)
			}
		}
		if st := c.Stats(); st.FailoverTotal() != 0 || len(st.ReportFailures) != 0 {
			t.Errorf("%s: %+v", tr.name, st)
		}
	}
}

// TestTokenFromFile: a scoring token read from a file as it is, newline
// and all (echo, a Kubernetes secret made from a file), is the token
// riskgate reads from the same file, which it trims. Sent with the
// newline, it failed every call on both transports (gRPC INTERNAL, an
// HTTP transport error), counted against riskgate until the breaker
// opened: every login failed over.
func TestTokenFromFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "scoring-token")
	if err := os.WriteFile(file, []byte("scoring-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := clienttest.Start(t, "--scoring-token-file", file)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c := newClient(t, client.Options{Target: tr.target(s), Token: string(token)})
			d, err := c.AfterPassword(context.Background(), client.Attempt{UserID: "u-token", Username: "tina", IP: "81.2.69.160"}, client.PasswordOK)
			if err != nil || d.Failover {
				t.Fatalf("decision %+v, err %v; want riskgate's", d, err)
			}
		})
	}
}

// TestLinkLocalAddress: a link-local client's address as a net.Conn gives
// it, with its zone, is judged, and so is the outcome of a failover for
// it: riskgate refuses an address with a zone, which failed every such
// login over unjudged (and refused its failover's outcome).
func TestLinkLocalAddress(t *testing.T) {
	down := newClient(t, client.Options{Target: refusedAddr(t), Failover: client.Allow, Timeout: time.Second})
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c := newClient(t, client.Options{Target: tr.target(shared), Tenant: fmt.Sprintf("link-local-%s-%d", tr.name, time.Now().UnixNano())})
			a := client.Attempt{UserID: "u-ll", Username: "lola", IP: "fe80::1%eth0"}
			for _, r := range []client.Result{client.PasswordOK, client.PasswordBad} {
				if d, err := c.AfterPassword(context.Background(), a, r); err != nil || d.Failover {
					t.Errorf("%v: decision %+v, err %v; want riskgate's", r, d, err)
				}
			}
			d, _ := down.AfterPassword(context.Background(), a, client.PasswordBad)
			if err := c.LoginFailed(context.Background(), d); !d.Failover || err != nil {
				t.Errorf("the failover's outcome (%+v): %v", d, err)
			}
		})
	}
}

// fieldOf is e's field, or "" without an error.
func fieldOf(e *client.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}
