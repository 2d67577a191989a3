package engine

import "net/netip"

// The fast paths of normalize: every Score validates its attempt's
// strings and parses its address, and these do in a pass of words, or in
// one pass, what the general functions do. Each has a test in
// fastpath_test.go comparing it with the way it stands for.

// plainASCII reports whether s is printable ASCII: no byte >= 0x80, below
// 0x20 or 0x7f. It may answer false for a string that is (checkString then
// checks it byte by byte), never true for one that is not.
//
// Every Score runs it over the attempt's ids, username and user agent
// (a hundred bytes and more): eight bytes a word, two words a step, and
// the last bytes as the string's last word, overlapping what was read (a
// byte read twice answers the same), rather than one at a time.
func plainASCII(s string) bool {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= 0x7f {
				return false
			}
		}
		return true
	}
	i := 0
	for ; i+16 <= len(s); i += 16 {
		if (unprintable(word(s, i))|unprintable(word(s, i+8)))&highBits != 0 {
			return false
		}
	}
	if i+8 <= len(s) {
		if unprintable(word(s, i))&highBits != 0 {
			return false
		}
		i += 8
	}
	return i == len(s) || unprintable(word(s, len(s)-8))&highBits == 0
}

const (
	oneBytes = 0x0101010101010101
	highBits = 0x8080808080808080
)

// word is the eight bytes of s from i, little-endian (one load).
func word(s string, i int) uint64 {
	b := s[i : i+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// unprintable has the high bit of each byte of x set that is not
// printable ASCII, and maybe others' (plainASCII's answer may be false for
// a printable string, never true for one that is not): a byte >= 0x80; a
// byte below 0x20 (x - 0x20 in a byte borrows into its high bit only when
// it is below 0x20, given the high bit clear); a byte 0x7f (zero after
// the xor).
func unprintable(x uint64) uint64 {
	y := x ^ 0x7f7f7f7f7f7f7f7f
	return x | (x-0x20*oneBytes)&^x | (y-oneBytes)&^y
}

// parseAddr is netip.ParseAddr, with plain dotted-quad IPv4, nearly
// every attempt's address, read here in one pass: ParseAddr looks for the
// kind of address first, then parses the fields through a general path.
// Only what ParseAddr takes and reads as the same address is taken here
// (four decimal fields of 0-255, without leading zeros); anything else
// goes to ParseAddr. TestParseAddrMatchesNetip compares the two.
func parseAddr(s string) (netip.Addr, error) {
	var ip [4]byte
	i := 0
	for f := range ip {
		if f > 0 {
			if i >= len(s) || s[i] != '.' {
				return netip.ParseAddr(s)
			}
			i++
		}
		// One to three digits, the first not 0 unless alone.
		if i >= len(s) || s[i]-'0' > 9 {
			return netip.ParseAddr(s)
		}
		v := uint(s[i] - '0')
		i++
		if i < len(s) && s[i]-'0' <= 9 {
			if v == 0 {
				return netip.ParseAddr(s)
			}
			v = v*10 + uint(s[i]-'0')
			i++
			if i < len(s) && s[i]-'0' <= 9 {
				v = v*10 + uint(s[i]-'0')
				i++
				if v > 255 {
					return netip.ParseAddr(s)
				}
			}
		}
		ip[f] = byte(v)
	}
	if i != len(s) {
		return netip.ParseAddr(s)
	}
	return netip.AddrFrom4(ip), nil
}
