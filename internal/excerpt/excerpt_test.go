package excerpt

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	long := strings.Repeat("a", 59) + "é" + strings.Repeat("b", 100) // é straddles byte 60
	tests := []struct {
		name, in, want string
	}{
		{"short", "10.0.0.0/8 x", `"10.0.0.0/8 x"`},
		{"exactly the cap", strings.Repeat("x", Max), `"` + strings.Repeat("x", Max) + `"`},
		{"long, cut at a character", long, `"` + strings.Repeat("a", 59) + `"…(161 bytes)`},
		{"control bytes, escapes counted", "\x00\x01" + strings.Repeat("\xff", 100), `"\x00\x01` + strings.Repeat(`\xff`, 13) + `"…(102 bytes)`},
		{"short but escaped past the cap", strings.Repeat("\x01", 20), `"` + strings.Repeat(`\x01`, 15) + `"…(20 bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quote(tt.in); got != tt.want {
				t.Errorf("Quote = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestBinary(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"address", "10.0.0.0/8 # corp", false},
		{"empty", "", false},
		{"UTF-8 comment", "# Zürich, Île-de-France, 東京", false},
		{"Latin-1 password", "m\xfcnchen1990", false},
		{"tabs and CR", "10.0.0.1\t# x\r", false},
		{"one NUL", "10.0.0.0/8 \x00", true},
		{"mostly control bytes", "\x01\x02\x03\x04a", true},
		{"random bytes", "\x9e\x8ff\xb6ro\x0e\xd7\xf1)\xe1\xc8L\xcf\x1b\xfd\x10\x93S7I\x84~\x99\xa4", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Binary(tt.in); got != tt.want {
				t.Errorf("Binary(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
