package client_test

import (
	"strings"
	"testing"

	"github.com/riskgate/riskgate/api/client"
	"github.com/riskgate/riskgate/engine"
)

// cleaningCorpus are values around every rule of the cleaning: limits,
// characters cut at a limit, control characters, runs of bad bytes.
var cleaningCorpus = []string{
	"", "alice@example.com", "Zoë", "a\x00b", "a\r\nb", "\x7f", "a\xff\xfe\xfdb", "\xc3",
	strings.Repeat("x", 256), strings.Repeat("x", 257), strings.Repeat("€", 100),
	strings.Repeat("M", 1023) + "€", strings.Repeat("M", 1024), strings.Repeat("M", 1100),
	strings.Repeat("\x00", 100), strings.Repeat("y", 256) + "\xff", strings.Repeat("ü", 600),
}

// TestCleaningMatchesTheEngine: the client cleans the fields the person
// logging in controls by the rules riskgate's engine cleans them by
// (engine.CleanClientField), repeated here so that the client links
// nothing of the server. Were they to drift, a value the client sent
// with its Score and riskgate received raw from elsewhere (an outcome
// through Kafka) would name two attempts.
func TestCleaningMatchesTheEngine(t *testing.T) {
	check := func(s string) {
		t.Helper()
		got := client.Attempt{Username: s, UserAgent: s, DeviceID: s}.Cleaned()
		if want := engine.CleanClientField(s, engine.MaxIDLen, true); got.Username != want || got.DeviceID != want {
			t.Errorf("%.60q: username %.60q, device %.60q; the engine's %.60q", s, got.Username, got.DeviceID, want)
		}
		if want := engine.CleanClientField(s, engine.MaxUserAgentLen, false); got.UserAgent != want {
			t.Errorf("%.60q: user agent %.60q; the engine's %.60q", s, got.UserAgent, want)
		}
	}
	for _, s := range cleaningCorpus {
		check(s)
	}
}

func FuzzCleaningMatchesTheEngine(f *testing.F) {
	for _, s := range cleaningCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := client.Attempt{Username: s, UserAgent: s, DeviceID: s}.Cleaned()
		if want := engine.CleanClientField(s, engine.MaxIDLen, true); got.Username != want || got.DeviceID != want {
			t.Fatalf("%q: username %q; the engine's %q", s, got.Username, want)
		}
		if want := engine.CleanClientField(s, engine.MaxUserAgentLen, false); got.UserAgent != want {
			t.Fatalf("%q: user agent %q; the engine's %q", s, got.UserAgent, want)
		}
	})
}
