// Package excerpt quotes a line of a data file (an IP list, an ASN CSV)
// in an error, and tells a binary file from a text one.
//
// A line is quoted so that the operator sees what was read, but a binary
// file given as a list (a gzip'd list, an .mmdb passed as --ip-list) has
// "lines" of hundreds of bytes, which %q turns into a wall of escapes: the
// excerpt is capped, and a line whose bytes are not text says so instead.
package excerpt

import (
	"fmt"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Max is the most characters of a line that Quote shows, escapes
// counted as written ("\x9e" is four).
const Max = 60

// Quote returns s quoted as %q does when that takes at most Max
// characters between the quotes; else as much of its start as fits
// (cut at a character boundary), quoted, and the line's length in bytes:
// "\"abc\"…(312 bytes)".
func Quote(s string) string {
	q := strconv.Quote(s)
	if utf8.RuneCountInString(q) <= Max+2 {
		return q
	}
	cut := min(len(s), Max)
	for {
		for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if q = strconv.Quote(s[:cut]); utf8.RuneCountInString(q) <= Max+2 || cut == 0 {
			return fmt.Sprintf("%s…(%d bytes)", q, len(s))
		}
		cut--
	}
}

// Binary reports whether s looks like binary data rather than a line of
// text: it holds a NUL byte, or more than a quarter of its bytes are
// control characters (other than tab, CR, form feed and vertical tab)
// or not UTF-8. A line of Latin-1 text (a few accented letters in ASCII)
// stays text.
func Binary(s string) bool {
	bad := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c == 0 {
			return true
		}
		if c < utf8.RuneSelf {
			if (c < ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') || c == 0x7f {
				bad++
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			bad++
		}
		i += n
	}
	return 4*bad > len(s)
}

// BinaryBytes is Binary of a byte slice, without copying it.
func BinaryBytes(b []byte) bool {
	return Binary(unsafe.String(unsafe.SliceData(b), len(b))) // read only while Binary runs
}

// BinaryNote is what an error about a line that looks binary says of the
// file, after the file:line.
const BinaryNote = "the file looks binary (NUL or control bytes), not text"
