package alert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestIDIsTheDocumentedHash(t *testing.T) {
	sum := sha256.Sum256([]byte("riskgate-alert\x00acme\x00d00042"))
	want := hex.EncodeToString(sum[:16])
	if got := ID("acme", "d00042"); got != want {
		t.Fatalf("ID = %s, want %s", got, want)
	}
	if ID("acme", "d00042") == ID("acme2", "d00042") || ID("a", "bc") == ID("ab", "c") {
		t.Fatal("ids of different tenants or decisions collide")
	}
}

func TestBuilderChoosesDecisions(t *testing.T) {
	deny := engine.Decision{DecisionID: "d1", Tenant: "t", Action: engine.ActionDeny}
	ruled := engine.Decision{DecisionID: "d2", Tenant: "t", Action: engine.ActionStepUp, Alert: true}
	both := engine.Decision{DecisionID: "d3", Tenant: "t", Action: engine.ActionDeny, Alert: true}
	quiet := engine.Decision{DecisionID: "d4", Tenant: "t", Action: engine.ActionAllow}
	tests := []struct {
		name   string
		onDeny bool
		d      engine.Decision
		want   []string // triggers; nil: no alert
	}{
		{"rule alert", false, ruled, []string{TriggerRule}},
		{"deny without alerting rule", false, deny, nil},
		{"deny with on-deny", true, deny, []string{TriggerDeny}},
		{"rule and deny", true, both, []string{TriggerRule, TriggerDeny}},
		{"rule, on-deny off", false, both, []string{TriggerRule}},
		{"allow", true, quiet, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testBuilder(t, BuilderOptions{OnDeny: tt.onDeny})
			a := b.Build(&tt.d)
			if b.Wants(&tt.d) != (tt.want != nil) {
				t.Fatalf("Wants = %v, want %v", !(tt.want != nil), tt.want != nil)
			}
			if tt.want == nil {
				if a != nil {
					t.Fatalf("alert %+v for a decision that does not alert", a)
				}
				return
			}
			if a == nil || !slices.Equal(a.Triggers, tt.want) {
				t.Fatalf("alert = %+v, want triggers %v", a, tt.want)
			}
			if a.AlertID != ID("t", tt.d.DecisionID) || a.Schema != SchemaID {
				t.Fatalf("alert id %s schema %s", a.AlertID, a.Schema)
			}
		})
	}
}

func TestUsernamePolicies(t *testing.T) {
	e := testEngine(t)
	ds := decisions(t, e, stuffing("acme", 10))
	d := ds[9] // denied, alerting
	if !d.Alert {
		t.Fatalf("scenario no longer alerts: %+v", d.Reasons)
	}
	keyed := testKeyer(t).Username("acme", "user9@example.com").String()
	tests := []struct {
		name     string
		opts     BuilderOptions
		wantUser User
	}{
		{"default hash", BuilderOptions{}, User{ID: "u-9", UsernameHash: keyed}},
		{"plain", BuilderOptions{Usernames: UsernamePlain}, User{ID: "u-9", Username: "user9@example.com"}},
		{"omit", BuilderOptions{Usernames: UsernameOmit}, User{ID: "u-9"}},
		{"tenant override", BuilderOptions{Usernames: UsernamePlain, TenantUsernames: map[string]UsernamePolicy{"acme": UsernameOmit}}, User{ID: "u-9"}},
		{"other tenant's override", BuilderOptions{TenantUsernames: map[string]UsernamePolicy{"other": UsernamePlain}}, User{ID: "u-9", UsernameHash: keyed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testBuilder(t, tt.opts).Build(&d)
			if a.User != tt.wantUser {
				t.Fatalf("user = %+v, want %+v", a.User, tt.wantUser)
			}
			// The signals carry the username the same way, and nowhere else.
			wantSig := tt.wantUser.Username + tt.wantUser.UsernameHash
			if a.Signals.Attempt.Username != wantSig {
				t.Fatalf("signals.attempt.username = %q, want %q", a.Signals.Attempt.Username, wantSig)
			}
			js := mustJSON(t, a)
			if tt.wantUser.Username == "" && bytes.Contains(bytes.ToLower(js), []byte("user9@example.com")) {
				t.Fatalf("username leaked: %s", js)
			}
		})
	}
}

func TestNewBuilderRefusesHashWithoutKeyer(t *testing.T) {
	if _, err := NewBuilder(BuilderOptions{}); err == nil {
		t.Fatal("hash policy without a keyer accepted")
	}
	if _, err := NewBuilder(BuilderOptions{Usernames: UsernamePlain, TenantUsernames: map[string]UsernamePolicy{"x": UsernameHash}}); err == nil {
		t.Fatal("tenant hash policy without a keyer accepted")
	}
	if _, err := NewBuilder(BuilderOptions{Usernames: UsernameOmit}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", "hash", "plain", "omit"} {
		p, err := ParseUsernamePolicy(s)
		if err != nil || (s != "" && p.String() != s) {
			t.Fatalf("ParseUsernamePolicy(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParseUsernamePolicy("clear"); err == nil {
		t.Fatal("unknown policy accepted")
	}
}

func TestAlertNeverCarriesPasswordHashOrDevice(t *testing.T) {
	e := testEngine(t)
	as := stuffing("acme", 12)
	b := testBuilder(t, BuilderOptions{Usernames: UsernamePlain, OnDeny: true})
	n := 0
	for _, d := range decisions(t, e, as) {
		a := b.Build(&d)
		if a == nil {
			continue
		}
		n++
		js := strings.ToLower(string(mustJSON(t, a)))
		for _, secret := range []string{as[0].PasswordSHA1, "dev-1", "password_sha1"} {
			if strings.Contains(js, secret) {
				t.Fatalf("alert carries %q: %s", secret, js)
			}
		}
	}
	if n < 3 {
		t.Fatalf("only %d alerts: the scenario no longer alerts", n)
	}
}

func TestAlertSharesNothingWithTheDecision(t *testing.T) {
	e := testEngine(t)
	d := decisions(t, e, stuffing("acme", 10))[9]
	a := testBuilder(t, BuilderOptions{}).Build(&d)
	before := string(mustJSON(t, a))
	d.Reasons[0].Message = "changed"
	d.Reasons[0].Tags[0] = "changed"
	d.Signals.Attempt.Attributes["app"] = "changed"
	if after := string(mustJSON(t, a)); after != before {
		t.Fatalf("changing the decision changed the alert:\n%s\n%s", before, after)
	}
}

// TestAlertsMatchSchema validates every alert of a scenario, built by the
// default rules on a real engine, against schema/alert.v1.json, and keeps
// one alert as a golden file.
func TestAlertsMatchSchema(t *testing.T) {
	s := compileSchema(t)
	e := defaultEngine(t)
	for _, policy := range []UsernamePolicy{UsernameHash, UsernamePlain, UsernameOmit} {
		b := testBuilder(t, BuilderOptions{Usernames: policy, OnDeny: true})
		n := 0
		for _, d := range decisions(t, e, stuffing("tenant-"+policy.String(), 14)) {
			a := b.Build(&d)
			if a == nil {
				continue
			}
			n++
			js, err := Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(s, js); err != nil {
				t.Fatalf("alert does not match the schema: %v\n%s", err, js)
			}
		}
		if n == 0 {
			t.Fatal("no alerts")
		}
	}

	// The golden alert: the 10th attempt of the scenario, on a fresh engine.
	d := decisions(t, testEngine(t), stuffing("acme", 10))[9]
	js, err := Marshal(testBuilder(t, BuilderOptions{OnDeny: true}).Build(&d))
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := jsonIndent(&pretty, js); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "alert.golden.json")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("alert differs from %s (run with -update if intended):\n%s", golden, pretty.Bytes())
	}
}

// TestSchemaRejects shows the schema is not vacuous: documents that break
// the contract fail validation.
func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	good, err := os.ReadFile(filepath.Join("testdata", "alert.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(s, good); err != nil {
		t.Fatalf("golden alert invalid: %v", err)
	}
	tests := []struct {
		name    string
		old     string
		new     string
		wantErr string
	}{
		{"password hash in signals", `"attempt": {`, `"attempt": {"password_sha1": "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",`, "not"},
		{"unknown top-level field", `"schema": "riskgate.alert.v1",`, `"schema": "riskgate.alert.v1", "password": "x",`, "additional"},
		{"wrong schema version", `"riskgate.alert.v1"`, `"riskgate.alert.v2"`, "must be 'riskgate.alert.v1'"},
		{"short alert id", `"alert_id": "`, `"alert_id": "ab`, "pattern"},
		{"unknown action", `"action": "deny",`, `"action": "block",`, "action"},
		{"username and hash", `"user": {`, `"user": {"username": "bob",`, "not"},
		{"time not RFC 3339", `"time": "2026-05-09T11:00:09Z"`, `"time": "yesterday"`, "date-time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(string(good), tt.old, tt.new, 1)
			if doc == string(good) {
				t.Fatalf("%q not found in the golden alert", tt.old)
			}
			err := validate(s, []byte(doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

// TestScrubUsername: a rule's message shows the username as the policy
// shows it, wherever it stands as a whole, and leaves alone the names and
// words it is only part of.
func TestScrubUsername(t *testing.T) {
	b := testBuilder(t, BuilderOptions{Usernames: UsernameOmit})
	for _, c := range []struct{ name, msg, want string }{
		{"alice@example.com", "failed for alice@example.com.", "failed for (username)."},
		{"alice@example.com", "alice@example.com, then alice@example.com again", "(username), then (username) again"},
		{"alice", "alice@example.com is not alice", "alice@example.com is not (username)"},
		{"al", "located al-qasim and al", "located al-qasim and (username)"},
		{"bob", "no one", "no one"},
		{"", "anything", "anything"},
	} {
		if got := b.scrub("acme", c.name, c.msg); got != c.want {
			t.Errorf("scrub(%q, %q) = %q, want %q", c.name, c.msg, got, c.want)
		}
	}
}
