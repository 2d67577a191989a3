package breached

import (
	"bytes"
	"crypto/sha1"
	"fmt"
)

// Format says how the lines of one input file are read.
type Format int

// Input forms. FormatAuto decides per file from its first lines: when at least
// 90% of the first (up to) 200 non-empty lines are valid `SHA1HEX:COUNT`, the
// file is read as HIBP and the other lines are reported as malformed;
// otherwise every line is a plain password. The threshold is deliberately
// not 100%: one damaged line at the top of a HIBP dump must not make the
// builder hash a billion hex strings as if they were passwords.
const (
	FormatAuto  Format = iota
	FormatHIBP         // "SHA1HEX:COUNT" lines, as Have I Been Pwned distributes them
	FormatPlain        // one password per line, hashed with SHA-1 while reading
)

func (f Format) String() string {
	switch f {
	case FormatHIBP:
		return "hibp"
	case FormatPlain:
		return "plain"
	}
	return "auto"
}

// ParseFormat reads "auto", "hibp" or "plain".
func ParseFormat(s string) (Format, error) {
	for f := FormatAuto; f <= FormatPlain; f++ {
		if f.String() == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("breached: unknown input format %q (want auto, hibp or plain)", s)
}

// Reasons a line is malformed. They describe the shape, never the content:
// a "malformed" line of a password list is still a password.
const (
	reasonOK       = ""
	reasonHexLen   = "expected 40 hex digits then ':'"
	reasonHexDigit = "non-hex character in the SHA-1"
	reasonNoCount  = "missing count after ':'"
	reasonCount    = "count is not a decimal number"
	reasonOverflow = "count overflows 64 bits"
	reasonZero     = "count is zero"
	reasonTooLong  = "line longer than the 1 MiB limit"
)

// unhex maps an ASCII byte to its hex value, 0xff when it is not a hex digit.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()

// parseHIBP parses one "SHA1HEX:COUNT" line (without its '\n'; a trailing
// '\r' is tolerated, hex digits may be upper or lower case). It returns a
// non-empty reason when the line is malformed.
func parseHIBP(line []byte) (sum [20]byte, count uint64, reason string) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) < 41 || line[40] != ':' {
		return sum, 0, reasonHexLen
	}
	var bad byte
	for i := range sum {
		hi, lo := unhex[line[2*i]], unhex[line[2*i+1]]
		bad |= hi | lo
		sum[i] = hi<<4 | lo
	}
	if bad&0xf0 != 0 {
		return sum, 0, reasonHexDigit
	}
	digits := line[41:]
	if len(digits) == 0 {
		return sum, 0, reasonNoCount
	}
	for _, c := range digits {
		d := uint64(c - '0')
		if d > 9 {
			return sum, 0, reasonCount
		}
		if count > (1<<64-1-d)/10 {
			return sum, 0, reasonOverflow
		}
		count = count*10 + d
	}
	if count == 0 {
		return sum, 0, reasonZero
	}
	return sum, count, reasonOK
}

// hashPlain hashes one password line (a trailing '\r' is dropped: CRLF files).
// ok is false for an empty line, which is skipped.
func hashPlain(line []byte) (sum [20]byte, ok bool) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) == 0 {
		return sum, false
	}
	return sha1.Sum(line), true
}

// detectFormat applies the FormatAuto rule to the first bytes of a file
// (already decompressed); complete says the sample is the whole file, so
// that a last line without '\n' counts too.
func detectFormat(sample []byte, complete bool) Format {
	lines, hibp := 0, 0
	for len(sample) > 0 && lines < 200 {
		i := bytes.IndexByte(sample, '\n')
		if i < 0 {
			if !complete {
				break // an incomplete last line says nothing
			}
			i = len(sample)
		}
		line := bytes.TrimSuffix(sample[:i], []byte{'\r'})
		sample = sample[min(i+1, len(sample)):]
		if len(line) == 0 {
			continue
		}
		lines++
		if _, _, r := parseHIBP(line); r == reasonOK {
			hibp++
		}
	}
	if lines > 0 && hibp*10 >= lines*9 {
		return FormatHIBP
	}
	return FormatPlain
}
