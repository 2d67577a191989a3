package iplist

import (
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want string // "" for a blank line, "error: ..." for an error
	}{
		{"192.0.2.0/24", "192.0.2.0/24"},
		{"  192.0.2.7  ", "192.0.2.7/32"},
		{"192.0.2.7/24", "192.0.2.0/24"}, // host bits masked
		{"2001:db8::/32", "2001:db8::/32"},
		{"2001:DB8::1", "2001:db8::1/128"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"10.0.0.0/8 # office", "10.0.0.0/8"},
		{"10.0.0.0/8\t#tab", "10.0.0.0/8"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"", ""},
		{"   ", ""},
		{"# a comment", ""},
		{"#", ""},
		{"\r", ""},
		{"10.0.0.0/33", "error: not a CIDR prefix"},
		{"10.0.0", "error: not an IP address"},
		{"example.com", "error: not an IP address"},
		{"10.0.0.1 10.0.0.2", "error: one address or CIDR per line"},
		{"10.0.0.1-10.0.0.9", "error: ranges are not supported"},
		{"2001:db8::1-2001:db8::9", "error: ranges are not supported"},
		{"not-an-address", "error: not an IP address"},
		{"10.0.0.1-", "error: not an IP address"},
		{"fe80::1%eth0", "error: zoned addresses"},
		{"2001:db8::/129", "error: not a CIDR prefix"},
		{"/24", "error: not a CIDR prefix"},
	}
	for _, tt := range tests {
		p, ok, err := ParseLine(tt.line)
		switch {
		case strings.HasPrefix(tt.want, "error: "):
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(tt.want, "error: ")) {
				t.Errorf("%q: got %v %v %v, want %s", tt.line, p, ok, err, tt.want)
			}
		case tt.want == "":
			if ok || err != nil {
				t.Errorf("%q: got %v %v %v, want a blank line", tt.line, p, ok, err)
			}
		default:
			if !ok || err != nil || p.String() != tt.want {
				t.Errorf("%q: got %v %v %v, want %s", tt.line, p, ok, err, tt.want)
			}
		}
	}
}

func TestParseASN(t *testing.T) {
	for line, want := range map[string]uint32{"16509": 16509, "AS16509": 16509, " as14061 # DigitalOcean": 14061, "4294967295": 4294967295} {
		if n, ok, err := ParseASN(line); !ok || err != nil || n != want {
			t.Errorf("%q: %v %v %v", line, n, ok, err)
		}
	}
	for _, line := range []string{"", "# x", "  "} {
		if _, ok, err := ParseASN(line); ok || err != nil {
			t.Errorf("%q: not blank", line)
		}
	}
	for _, line := range []string{"AS", "ASN16509", "0", "AS0", "-1", "4294967296", "16509 14061", "amazon"} {
		if _, _, err := ParseASN(line); err == nil {
			t.Errorf("%q accepted", line)
		}
	}
}

// FuzzParseLine: no line panics, and every accepted line is a valid,
// masked prefix that parses back to itself.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"192.0.2.0/24", "2001:db8::1", "::ffff:1.2.3.4/120", "# x", "10.0.0.1/8 # y", "fe80::1%e", "1.2.3.4-5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p, ok, err := ParseLine(line)
		if err != nil || !ok {
			if ok || p.IsValid() {
				t.Fatalf("%q: %v %v %v", line, p, ok, err)
			}
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("%q: bad prefix %v", line, p)
		}
		back, ok, err := ParseLine(p.String())
		if !ok || err != nil || back != p {
			t.Fatalf("%q: %v does not parse back: %v %v %v", line, p, back, ok, err)
		}
		if p.Bits() == p.Addr().BitLen() {
			a, _, _ := ParseLine(p.Addr().String())
			if a != p {
				t.Fatalf("%q: address form %v", line, a)
			}
		}
	})
}
