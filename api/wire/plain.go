package wire

import "math/bits"

// The bytes of a JSON string that need no look of their own, whether it is
// read (DecodeQuick) or written (httpapi's encoder): printable ASCII other
// than '"' and '\\'. Runs of them are skipped eight at a time: most of a
// Score's body and of its answer are such runs (a user agent alone is a
// hundred bytes), where a loop with a switch per byte spent ~17
// instructions a byte (callgrind, issue 15).

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// specials marks, with the high bit of its byte, the bytes of x (eight
// bytes, the first in the low byte) that are not plain: below 0x20, '"',
// '\\', or 0x80 and above. A mark above the lowest may be false (a borrow
// crosses into the next byte), but the lowest mark is always a byte that
// is not plain, and the bytes below it are all plain: a borrow only
// leaves a byte that is marked itself.
func specials(x uint64) uint64 {
	ctl := (x - 0x20*ones) &^ x // below 0x20 (x's bytes >= 0x80 are marked below)
	q := x ^ ('"' * ones)       // zero where x has '"'
	bs := x ^ ('\\' * ones)     // zero where x has '\\'
	return (ctl | (q-ones)&^q | (bs-ones)&^bs | x) & highs
}

// plainSet marks the plain bytes, for the last few bytes of an input.
var plainSet = func() (s [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		s[c] = c != '"' && c != '\\'
	}
	return s
}()

// IsPlain reports whether c is a plain byte, for loops over strings too
// short for PlainPrefix's words to pay.
func IsPlain(c byte) bool { return plainSet[c] }

// PlainPrefix is the length of the longest prefix of s whose bytes are
// printable ASCII other than '"' and '\\': bytes a JSON string holds as
// they are, with no escape, check or UTF-8 decoding.
func PlainPrefix(s string) int { return plainPrefix(s) }

// plainPrefix is PlainPrefix of a string or of bytes (DecodeQuick's).
func plainPrefix[T string | []byte](s T) int {
	i := 0
	for ; len(s)-i >= 8; i += 8 {
		w := s[i : i+8] // one 8-byte load: the compiler combines the bytes'
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		if m := specials(x); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(s) && plainSet[s[i]]; i++ {
	}
	return i
}
