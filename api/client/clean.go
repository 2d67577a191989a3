package client

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// Limits of the fields an attacker controls, as riskgate's engine has them
// (engine.MaxUserAgentLen, engine.MaxIDLen): this package links nothing of
// the server, so they are repeated here.
const (
	maxUserAgentLen = 1024
	maxIDLen        = 256
)

// digestPrefix marks a username or device id too long to send, replaced by
// the SHA-256 of its bytes.
const digestPrefix = "sha256:"

// The fields the person logging in controls (the User-Agent header, a
// device cookie, the username typed) are cleaned before they are sent, as
// riskgate cleans them itself: riskgate refused such a field when it was too
// long or held a control character, and a refused Score fails over, which
// let an attacker choose the failover action for his own logins (and keep
// their failures out of the attack windows) with a long User-Agent header.
//
// The rules, applied to every Score and to the attempt a Report sends (so
// both name the same values):
//
//   - invalid UTF-8 becomes U+FFFD (strings.ToValidUTF8: a run of bad bytes
//     is one U+FFFD), then each ASCII control character (0x00-0x1f, 0x7f)
//     becomes U+FFFD;
//   - a user agent over 1024 bytes is cut to 1024 at a rune boundary;
//   - a username or device id over 256 bytes becomes "sha256:" and the
//     lower-case hex SHA-256 of the value as given (before the replacements
//     above), so distinct long values stay distinct and one value always
//     maps to the same.

// Cleaned returns a with Username, UserAgent and DeviceID as Score and
// Report send them (the rules above), for code that hands an attempt to
// riskgate by another way, such as the Kratos hook mounted in riskgate.
func (a Attempt) Cleaned() Attempt {
	a.Username, a.UserAgent, a.DeviceID = cleanID(a.Username), cleanUserAgent(a.UserAgent), cleanID(a.DeviceID)
	return a
}

// cleanUserAgent is the user agent as sent.
func cleanUserAgent(s string) string {
	if len(s) <= maxUserAgentLen && printableASCII(s) {
		return s
	}
	s = replaceBad(s)
	if len(s) <= maxUserAgentLen {
		return s
	}
	n := maxUserAgentLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// cleanID is a username or device id as sent.
func cleanID(s string) string {
	if len(s) <= maxIDLen && printableASCII(s) {
		return s
	}
	c := replaceBad(s)
	if len(c) <= maxIDLen {
		return c
	}
	sum := sha256.Sum256([]byte(s))
	return digestPrefix + hex.EncodeToString(sum[:])
}

// replaceBad replaces invalid UTF-8, then ASCII control characters, with
// U+FFFD.
func replaceBad(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !hasControl(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return utf8.RuneError
		}
		return r
	}, s)
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// printableASCII reports whether every byte of s is printable ASCII, which
// needs no cleaning.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
