package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestHashPassword(t *testing.T) {
	// SHA-1 test vectors, as Have I Been Pwned lists them (upper case there).
	cases := map[string]string{
		"password": "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
		"":         "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"P@ssw0rd": "21bd12dc183f740ee76f27b78eb39c8ad972a757",
	}
	for typed, want := range cases {
		if got := HashPassword(typed).hex(); got != want {
			t.Errorf("HashPassword(%q) = %s, want %s", typed, got, want)
		}
	}
	if got := (PasswordSHA1{}).hex(); got != "" {
		t.Errorf("no password hashed as %q", got)
	}
}

// TestPasswordNeverPrinted: no way of printing an attempt shows the hash.
func TestPasswordNeverPrinted(t *testing.T) {
	p := HashPassword("password")
	a := Attempt{Username: "u", IP: "192.0.2.1", Password: p}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "attempt", a, "password", p)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "attempt", a, "password", p)
	js, _ := json.Marshal(a)
	outputs := []string{
		fmt.Sprint(a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a), fmt.Sprintf("%x", p), fmt.Sprintf("%s", p),
		fmt.Sprintf("%q", p), fmt.Sprintf("%X", a.Password), fmt.Sprintf("%d", p), logged.String(), string(js),
	}
	for _, out := range outputs {
		if strings.Contains(strings.ToLower(out), "5baa61e4") || strings.Contains(out, "91, 170") {
			t.Errorf("hash printed: %s", out)
		}
	}
}

func TestActionText(t *testing.T) {
	for _, a := range []Action{ActionNone, Allow, StepUp, Deny} {
		b, _ := a.MarshalText()
		var back Action
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("%v: %s -> %v, %v", a, b, back, err)
		}
	}
	var a Action
	if err := json.Unmarshal([]byte(`"block"`), &a); err == nil || !strings.Contains(err.Error(), `"block"`) {
		t.Errorf("unknown action: %v", err)
	}
}

func TestNewAttemptID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	base := time.Date(2026, 5, 9, 11, 0, 0, 0, time.UTC)
	for i := range 1000 {
		id := newAttemptID(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 26 || seen[id] {
			t.Fatalf("id %q (length %d, seen %v)", id, len(id), seen[id])
		}
		if id <= prev {
			t.Fatalf("ids do not sort by time: %q after %q", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestAwaitsOutcome(t *testing.T) {
	cases := []struct {
		d    Decision
		want bool
	}{
		{Decision{Action: Allow, result: ResultUnknown}, true},
		{Decision{Action: Allow, result: PasswordOK}, false},
		{Decision{Action: Allow, result: PasswordBad}, false},
		{Decision{Action: StepUp, result: PasswordOK}, true},
		{Decision{Action: StepUp, result: ResultUnknown}, true},
		{Decision{Action: StepUp, result: NoSuchUser}, false},
		{Decision{Action: Deny, result: PasswordOK}, false},
		{Decision{Action: Deny, Failover: true}, true},
		// BeforePassword's: AfterPassword's decision is reported.
		{Decision{Action: Allow, result: ResultUnknown, before: true}, false},
		{Decision{Action: StepUp, result: ResultUnknown, before: true}, false},
		{Decision{Action: StepUp, Failover: true, before: true}, false},
	}
	for _, tc := range cases {
		if got := tc.d.AwaitsOutcome(); got != tc.want {
			t.Errorf("%v after %v (failover %v): %v, want %v", tc.d.Action, tc.d.result, tc.d.Failover, got, tc.want)
		}
	}
}
