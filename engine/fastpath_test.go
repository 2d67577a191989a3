package engine

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TestClassifyFastPathMatches checks Classify's first-octet shortcut
// against the full classification: every first octet with random
// addresses, and the first and last address of every special range and
// their neighbours.
func TestClassifyFastPathMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(a netip.Addr) {
		t.Helper()
		if got, want := Classify(a), classify(a); got != want {
			t.Fatalf("Classify(%s) = %s, the full classification says %s", a, got, want)
		}
		m := netip.AddrFrom16(a.As16()) // the same address IPv4-mapped
		if got, want := Classify(m), classify(a); got != want {
			t.Fatalf("Classify(%s) = %s, the full classification says %s", m, got, want)
		}
	}
	for o := range 256 {
		for range 2000 {
			check(netip.AddrFrom4([4]byte{byte(o), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}))
		}
		check(netip.AddrFrom4([4]byte{byte(o), 0, 0, 0}))
		check(netip.AddrFrom4([4]byte{byte(o), 255, 255, 255}))
	}
	for _, p := range special4() {
		first := p.Masked().Addr()
		b := first.As4()
		n := binary.BigEndian.Uint32(b[:]) | uint32(uint64(1)<<(32-p.Bits())-1)
		binary.BigEndian.PutUint32(b[:], n)
		last := netip.AddrFrom4(b)
		for _, a := range []netip.Addr{first, first.Prev(), last, last.Next()} {
			if a.IsValid() {
				check(a)
			}
		}
	}
	plain := 0
	for _, ok := range plainOctet {
		if ok {
			plain++
		}
	}
	if plain < 200 {
		t.Errorf("only %d first octets take the fast path", plain)
	}
}

// TestPlainASCII checks plainASCII against a byte-by-byte reference on
// every single-byte change of strings of every length up to 42, and
// that checkString's answers do not depend on the fast path.
func TestPlainASCII(t *testing.T) {
	ref := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] >= 0x7f {
				return false
			}
		}
		return true
	}
	base := []byte("Mozilla/5.0 (X11; Linux x86_64) Gecko/2010")
	for n := 0; n <= len(base); n++ {
		for i := 0; i < n; i++ {
			for c := range 256 {
				b := append([]byte(nil), base[:n]...)
				b[i] = byte(c)
				s := string(b)
				if got, want := plainASCII(s), ref(s); got != want {
					t.Fatalf("plainASCII(%q) = %v, want %v", s, got, want)
				}
				err := checkString("f", s, 100)
				switch {
				case !utf8.ValidString(s):
					if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
						t.Fatalf("checkString(%q) = %v, want not valid UTF-8", s, err)
					}
				case c < 0x20 || c == 0x7f:
					if err == nil || !strings.Contains(err.Error(), "control character") {
						t.Fatalf("checkString(%q) = %v, want a control character", s, err)
					}
				default:
					if err != nil {
						t.Fatalf("checkString(%q) = %v", s, err)
					}
				}
			}
		}
	}
}

// TestSubnetTextMatchesNetip checks appendSubnet's IPv4 /24 against
// netip.Prefix.AppendTo, which it stands for: every value of every octet,
// random subnets, unmasked prefixes, and the other shapes.
func TestSubnetTextMatchesNetip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	check := func(p netip.Prefix) {
		t.Helper()
		want := string(p.AppendTo(nil))
		if got := subnetText(p); got != want {
			t.Fatalf("subnetText(%v) = %q, want %q", p, got, want)
		}
		if got := string(appendSubnet([]byte("x"), p)); got != "x"+want {
			t.Fatalf("appendSubnet(\"x\", %v) = %q, want %q", p, got, "x"+want)
		}
	}
	for o := range 256 {
		for i := range 4 {
			var b [4]byte
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			b[i] = byte(o)
			a := netip.AddrFrom4(b)
			check(SubnetOf(a))
			check(netip.PrefixFrom(a, 24)) // not masked
			check(netip.PrefixFrom(a, 32))
			check(SubnetOf(netip.AddrFrom16(a.As16()))) // IPv4-mapped
		}
	}
	for range 100_000 {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:], r.Uint64())
		binary.LittleEndian.PutUint64(b[8:], r.Uint64())
		check(SubnetOf(netip.AddrFrom4([4]byte(b[:4]))))
		check(SubnetOf(netip.AddrFrom16(b)))
	}
	check(SubnetOf(netip.Addr{}))
	check(netip.Prefix{})
}

// TestNormalizeUsernameWords checks NormalizeUsername, which reads words,
// against the byte-at-a-time version it replaced, on every single-byte
// change of strings of every length up to 42 (a byte >= 0x80 and an
// upper-case letter in each word and the overlapping last one), and with
// a second byte changed at random.
func TestNormalizeUsernameWords(t *testing.T) {
	ref := func(s string) string {
		upper := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 0x80 {
				return strings.ToLower(strings.TrimSpace(norm.NFKC.String(strings.Map(dropInvisible, s))))
			}
			upper = upper || c >= 'A' && c <= 'Z'
		}
		if s = strings.TrimSpace(s); upper {
			return strings.ToLower(s)
		}
		return s
	}
	r := rand.New(rand.NewPCG(5, 6))
	base := []byte(" alice.smith+test@example.com  x\tyz 0129@`[")
	for n := 0; n <= len(base); n++ {
		for i := 0; i < n; i++ {
			for c := range 256 {
				b := append([]byte(nil), base[:n]...)
				b[i] = byte(c)
				if got, want := NormalizeUsername(string(b)), ref(string(b)); got != want {
					t.Fatalf("NormalizeUsername(%q) = %q, want %q", b, got, want)
				}
				b[r.IntN(n)] = byte(r.IntN(256))
				if got, want := NormalizeUsername(string(b)), ref(string(b)); got != want {
					t.Fatalf("NormalizeUsername(%q) = %q, want %q", b, got, want)
				}
			}
		}
	}
}

// TestParseAddrMatchesNetip checks parseAddr's IPv4 path against
// netip.ParseAddr: every field value, leading zeros, too many and too few
// fields and digits, other characters, and random strings of digits and
// dots; and that what it leaves to ParseAddr is ParseAddr's answer.
func TestParseAddrMatchesNetip(t *testing.T) {
	check := func(s string) {
		t.Helper()
		got, gerr := parseAddr(s)
		want, werr := netip.ParseAddr(s)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Fatalf("parseAddr(%q) = %v, %v; netip.ParseAddr: %v, %v", s, got, gerr, want, werr)
		}
	}
	for v := range 1000 {
		f := strconv.Itoa(v)
		for _, s := range []string{f + ".1.2.3", "1." + f + ".2.3", "1.2." + f + ".3", "1.2.3." + f, "0" + f + ".1.2.3", "1.2.3.0" + f, "00" + f + ".1.2.3"} {
			check(s)
		}
	}
	for _, s := range []string{"", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4.", "0.0.0.0", "255.255.255.255",
		"256.1.1.1", "1.2.3.4a", "a1.2.3.4", "1.2.3.-4", "1.2.3.+4", "1.2.3.4%eth0", "::ffff:1.2.3.4", "::1", "1.2.3.4/24",
		" 1.2.3.4", "1.2.3.4 ", "1000.2.3.4", "1.2.3.4444", "01.2.3.4", "1.2.3.00", "111.222.233.244", "1.2.3.4\x00"} {
		check(s)
	}
	r := rand.New(rand.NewPCG(9, 10))
	const alphabet = "0123456789.........:x"
	for range 300_000 {
		b := make([]byte, 1+r.IntN(17))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		check(string(b))
	}
}

// TestEncodeULIDDigits checks encodeULID, which takes eight digits from
// each of three words, against a digit at a time across the 128 bits, on
// single bits, all ones and random ids, and that decodeULID reads it back.
func TestEncodeULIDDigits(t *testing.T) {
	ref := func(b *[16]byte) string {
		var out [26]byte
		hi := binary.BigEndian.Uint64(b[:8])
		lo := binary.BigEndian.Uint64(b[8:])
		for i := 25; i >= 0; i-- {
			out[i] = crockford[lo&31]
			lo = lo>>5 | hi<<59
			hi >>= 5
		}
		return string(out[:])
	}
	check := func(b [16]byte) {
		t.Helper()
		got, want := encodeULID(&b), ref(&b)
		if got != want {
			t.Fatalf("encodeULID(%x) = %s, want %s", b, got, want)
		}
		if back, ok := decodeULID(got); !ok || back != b {
			t.Fatalf("decodeULID(%s) = %x, %v; want %x", got, back, ok, b)
		}
	}
	check([16]byte{})
	var ones [16]byte
	for i := range ones {
		ones[i] = 0xff
	}
	check(ones)
	for bit := range 128 {
		var b [16]byte
		b[bit/8] = 1 << (bit % 8)
		check(b)
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 100_000 {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], r.Uint64())
		binary.LittleEndian.PutUint64(b[8:], r.Uint64())
		check(b)
	}
}
