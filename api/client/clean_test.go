package client

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	long := strings.Repeat("x", maxIDLen+1)
	sum := sha256.Sum256([]byte(long))
	bad := strings.Repeat("y", maxIDLen) + "\xff"
	badSum := sha256.Sum256([]byte(bad))
	ids := []struct{ in, want string }{
		{"", ""},
		{"alice@example.com", "alice@example.com"},
		{"Zoë", "Zoë"},
		{"al\nice", "al\uFFFDice"},
		{"a\x00b\x7fc", "a\uFFFDb\uFFFDc"},
		{"a\xff\xfeb", "a\uFFFDb"}, // a run of bad bytes is one U+FFFD
		{"\xff\x01\xff", "\uFFFD\uFFFD\uFFFD"},
		{strings.Repeat("x", maxIDLen), strings.Repeat("x", maxIDLen)},
		{long, "sha256:" + hex.EncodeToString(sum[:])},
		// 256 bytes, 258 once the bad byte is U+FFFD: digested, from the
		// bytes as given
		{bad, "sha256:" + hex.EncodeToString(badSum[:])},
	}
	for _, tc := range ids {
		if got := cleanID(tc.in); got != tc.want {
			t.Errorf("cleanID(%.40q) = %.80q, want %.80q", tc.in, got, tc.want)
		}
	}
	if cleanID(long) == cleanID(long+"x") || cleanID(long) != cleanID(strings.Clone(long)) {
		t.Error("digests: distinct long values must stay distinct, and one value map to one digest")
	}

	ua := strings.Repeat("M", maxUserAgentLen-1) + "é" // 1025 bytes: é does not fit
	uas := []struct{ in, want string }{
		{"Mozilla/5.0", "Mozilla/5.0"},
		{"Mozilla\r\nX-Evil: 1", "Mozilla\uFFFD\uFFFDX-Evil: 1"},
		{strings.Repeat("a", 70<<10), strings.Repeat("a", maxUserAgentLen)},
		{ua, strings.Repeat("M", maxUserAgentLen-1)},
		{strings.Repeat("M", maxUserAgentLen-2) + "\x01", strings.Repeat("M", maxUserAgentLen-2)},
	}
	for _, tc := range uas {
		got := cleanUserAgent(tc.in)
		if got != tc.want {
			t.Errorf("cleanUserAgent(%.40q...) = %.40q... (%d bytes), want %d bytes", tc.in, got, len(got), len(tc.want))
		}
		if len(got) > maxUserAgentLen || !utf8.ValidString(got) || hasControl(got) {
			t.Errorf("cleanUserAgent(%.40q...) not sendable", tc.in)
		}
	}
}
