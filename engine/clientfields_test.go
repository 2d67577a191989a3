package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/riskgate/riskgate/engine"
)

func TestCleanClientField(t *testing.T) {
	digest := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	longName := strings.Repeat("a", 300)
	euro := strings.Repeat("M", 1023) + "€€" // the first € straddles byte 1024
	for _, c := range []struct {
		name, in string
		max      int
		digest   bool
		want     string
	}{
		{"plain", "Mozilla/5.0 (X11)", 1024, false, "Mozilla/5.0 (X11)"},
		{"unicode kept", "Ålesund – café", 1024, false, "Ålesund – café"},
		{"long, cut", strings.Repeat("M", 1100), 1024, false, strings.Repeat("M", 1024)},
		{"long, cut at a character", euro, 1024, false, strings.Repeat("M", 1023)},
		{"control characters", "a\x00b\r\nc\x7f", 256, true, "a\uFFFDb\uFFFD\uFFFDc\uFFFD"},
		{"a run of bad bytes is one U+FFFD", "a\xff\xfe\xfdb", 256, true, "a\uFFFDb"},
		{"long, digest of the value as sent", longName, 256, true, digest(longName)},
		{"exactly the limit", strings.Repeat("a", 256), 256, true, strings.Repeat("a", 256)},
		{"cleaning makes it long", strings.Repeat("\x00", 100), 256, true, digest(strings.Repeat("\x00", 100))},
	} {
		got := engine.CleanClientField(c.in, c.max, c.digest)
		if got != c.want {
			t.Errorf("%s: %.80q, want %.80q", c.name, got, c.want)
		}
		if again := engine.CleanClientField(got, c.max, c.digest); again != got {
			t.Errorf("%s: cleaned again %.80q, want itself", c.name, again)
		}
	}
	if engine.CleanClientField(longName, 256, true) == engine.CleanClientField(longName+"b", 256, true) {
		t.Error("two long values cleaned to one")
	}
}

// FuzzCleanClientField: whatever comes in, what is kept is valid UTF-8
// without ASCII control characters, within the limit, cleans to itself,
// and is the value itself when that was already clean.
func FuzzCleanClientField(f *testing.F) {
	for _, s := range []string{"", "Mozilla/5.0", "a\x00b", "\xff\xfe", strings.Repeat("€", 400), strings.Repeat("x", 300)} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, digest bool) {
		for _, max := range []int{engine.MaxIDLen, engine.MaxUserAgentLen} {
			got := engine.CleanClientField(s, max, digest)
			if !utf8.ValidString(got) || len(got) > max {
				t.Fatalf("%q (max %d): %q", s, max, got)
			}
			for i := 0; i < len(got); i++ {
				if got[i] < 0x20 || got[i] == 0x7f {
					t.Fatalf("%q: a control character kept in %q", s, got)
				}
			}
			if again := engine.CleanClientField(got, max, digest); again != got {
				t.Fatalf("%q: cleaned %q, then %q", s, got, again)
			}
			clean := utf8.ValidString(s) && len(s) <= max && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
			if clean && got != s {
				t.Fatalf("a clean %q became %q", s, got)
			}
		}
	})
}

// TestAttackerFieldsAreScoredAndCounted: a login whose client sent an
// oversized user agent, an oversized device cookie or a control character
// in the username is scored and counted like any other. Refused, it went
// to the caller's failover (allow, for some), and a brute force padded so
// was never judged, nor its failures counted (an integrator's pass). The
// outcome the caller reports for it, with the same fields, is the same
// attempt: its failure is not counted twice.
func TestAttackerFieldsAreScoredAndCounted(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pad := []func(a *engine.Attempt){
		func(a *engine.Attempt) { a.UserAgent = strings.Repeat("A", 1100) },
		func(a *engine.Attempt) { a.DeviceID = strings.Repeat("d", 300) },
		func(a *engine.Attempt) { a.Username = "Alice@Example.com\x00" },
	}
	var last engine.Decision
	for i, p := range pad {
		a := paris(t0)
		a.Result, a.AttemptID = engine.ResultPasswordBad, "padded-"+string(rune('a'+i))
		p(&a)
		d, err := h.e.Score(ctx, a)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if err := h.e.Report(ctx, engine.Outcome{Attempt: &a, Outcome: engine.LoginFailed}); err != nil {
			t.Fatalf("attempt %d's outcome: %v", i, err)
		}
		last = d
	}
	if got := last.Signals.Account.Failures1h; got != 3 {
		t.Errorf("account failures_1h %d after three padded failures, want 3", got)
	}
	a := paris(t0)
	a.Result = engine.ResultPasswordBad
	d, err := h.e.Score(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Signals.Account.Failures1h; got != 4 {
		t.Errorf("account failures_1h %d after a fourth failure, want 4: outcomes counted again", got)
	}
}
