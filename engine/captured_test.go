package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

func key(b byte) engine.Key {
	var k engine.Key
	k[0], k[15] = b, 0x5a
	return k
}

// The facts a capture keeps of a password stand in for its hash: the
// breach status reaches the rules as the live check reported it, and the
// key counts distinct accounts for spraying.
func TestScoreCapturedUsesThePasswordFacts(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pw := &engine.PasswordFacts{Key: key(1), Status: "breached", Tier: 2}
	var d engine.Decision
	for i := range 6 {
		a := engine.Attempt{Time: t0.Add(time.Duration(i) * time.Second), UserID: fmt.Sprintf("u-%d", i),
			Username: fmt.Sprintf("user%d", i), IP: "81.2.69.160", Result: engine.ResultPasswordBad}
		var err error
		if d, err = h.e.ScoreCaptured(ctx, a, pw); err != nil {
			t.Fatal(err)
		}
	}
	p := d.Signals.Password
	if !p.Present || p.Status != "breached" || !p.Breached || p.Tier != 2 {
		t.Errorf("password signals %+v, want the captured breach status", p)
	}
	if p.Accounts1h != 6 {
		t.Errorf("accounts_1h %d, want 6: the captured key counts distinct accounts", p.Accounts1h)
	}
	// Another key is another password.
	d, err := h.e.ScoreCaptured(ctx, engine.Attempt{Time: t0.Add(time.Minute), UserID: "u-9", IP: "81.2.69.160"},
		&engine.PasswordFacts{Key: key(2), Status: "clean"})
	if err != nil {
		t.Fatal(err)
	}
	if p := d.Signals.Password; p.Accounts1h != 1 || p.Status != "clean" || p.Breached {
		t.Errorf("a second password: %+v", p)
	}
	// No facts: no password.
	d, err = h.e.ScoreCaptured(ctx, engine.Attempt{Time: t0.Add(time.Minute), UserID: "u-9", IP: "81.2.69.160"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := d.Signals.Password; p.Present || p.Status != "unknown" || p.Accounts1h != 0 {
		t.Errorf("no password: %+v", p)
	}
}

func TestScoreCapturedRejectsBadFacts(t *testing.T) {
	h := newHarness(t, nil)
	a := engine.Attempt{Time: t0, UserID: "u-1", IP: "81.2.69.160"}
	withHash := a
	withHash.PasswordSHA1 = strings.Repeat("ab", 20)
	tests := []struct {
		a     engine.Attempt
		pw    engine.PasswordFacts
		field string
	}{
		{a, engine.PasswordFacts{Status: "clean"}, "password.key"},
		{a, engine.PasswordFacts{Key: key(1), Status: "pwned"}, "password.status"},
		{a, engine.PasswordFacts{Key: key(1)}, "password.status"},
		{a, engine.PasswordFacts{Key: key(1), Status: "clean", Tier: 1}, "password.tier"},
		{a, engine.PasswordFacts{Key: key(1), Status: "breached", Tier: -1}, "password.tier"},
		{a, engine.PasswordFacts{Key: key(1), Status: "breached", Tier: 256}, "password.tier"},
		{withHash, engine.PasswordFacts{Key: key(1), Status: "clean"}, "password_sha1"},
	}
	for _, tt := range tests {
		_, err := h.e.ScoreCaptured(context.Background(), tt.a, &tt.pw)
		var fe *engine.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("%+v: %v, want an invalid-input error naming %s", tt.pw, err, tt.field)
		}
	}
	// Nothing of the refused attempts was counted.
	d, err := h.e.ScoreCaptured(context.Background(), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := d.Signals.Tenant.Attempts10m; n != 1 {
		t.Errorf("tenant attempts %d after refused attempts, want 1", n)
	}
}

// A capture holds what the live engine scored; a repeated attempt_id in
// it was scored again live (after the retry window), so it is here too.
func TestScoreCapturedIsNotIdempotent(t *testing.T) {
	h := newHarness(t, nil)
	a := engine.Attempt{AttemptID: "a-1", Time: t0, UserID: "u-1", IP: "81.2.69.160", Result: engine.ResultPasswordBad}
	var d engine.Decision
	for range 2 {
		var err error
		if d, err = h.e.ScoreCaptured(context.Background(), a, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.Signals.IP.Failures10m; n != 2 {
		t.Errorf("failures %d, want both captured attempts counted", n)
	}
}
