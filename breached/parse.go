package breached

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"

	"github.com/riskgate/riskgate/internal/excerpt"
)

// Format says how the lines of one input file are read.
type Format int

// Input forms. Have I Been Pwned's Pwned Passwords come from its downloader
// in two layouts: one file of "SHA1HEX:COUNT" lines (its default,
// --single), or a folder of 1,048,576 range files 00000.txt … FFFFF.txt
// (-s false) whose lines are "SUFFIX:COUNT", the 35 hex digits after the
// 5 of the file name. Both are FormatHIBP to the caller; a range file is
// recognised by its name and its lines.
//
// FormatAuto decides per file from its first (up to) 200 non-empty lines
// (see sniff): hash lines make it HIBP, never a password list, even with
// some bad lines among them, which the malformed-line limit then judges;
// a file of NTLM hashes (the downloader's -n) is refused.
const (
	FormatAuto      Format = iota
	FormatHIBP             // "SHA1HEX:COUNT" lines, as Have I Been Pwned distributes them
	FormatPlain            // one password per line, hashed with SHA-1 while reading
	FormatHIBPRange        // a downloader range file: "SUFFIX:COUNT" lines, the prefix in the file name
)

func (f Format) String() string {
	switch f {
	case FormatHIBP:
		return "hibp"
	case FormatPlain:
		return "plain"
	case FormatHIBPRange:
		return "hibp range files"
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
	reasonRangeLen = "expected 35 hex digits (the hash after the file name's 5) then ':'"
	reasonHexDigit = "non-hex character in the SHA-1"
	reasonNoCount  = "missing count after ':'"
	reasonCount    = "count is not a decimal number"
	reasonOverflow = "count overflows 64 bits"
	reasonTooLong  = "line longer than the 1 MiB limit"
	// reasonBinary replaces the others for a line of binary bytes: said
	// of a shape, it only named the first character a hash line lacks.
	reasonBinary = excerpt.BinaryNote
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
// non-empty reason when the line is malformed. A count of 0 is valid: the
// Pwned Passwords API pads its answers with such lines, which fall below
// any --min-count.
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
	count, reason = parseCount(line[41:])
	return sum, count, reason
}

// parseHIBPRange parses one "SUFFIX:COUNT" line of a downloader range file
// whose name gave the first 5 hex digits, prefix (0 … 0xFFFFF).
func parseHIBPRange(prefix uint32, line []byte) (sum [20]byte, count uint64, reason string) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) < 36 || line[35] != ':' {
		return sum, 0, reasonRangeLen
	}
	// Digits 0-4 are the prefix; digit 5 (line[0]) shares byte 2 with it.
	sum[0], sum[1] = byte(prefix>>12), byte(prefix>>4)
	first := unhex[line[0]]
	bad := first
	sum[2] = byte(prefix&0xf)<<4 | first&0xf
	for i := 3; i < 20; i++ {
		hi, lo := unhex[line[2*i-5]], unhex[line[2*i-4]]
		bad |= hi | lo
		sum[i] = hi<<4 | lo
	}
	if bad&0xf0 != 0 || prefix > 0xfffff {
		return sum, 0, reasonHexDigit
	}
	count, reason = parseCount(line[36:])
	return sum, count, reason
}

// parseCount reads the decimal count after the ':'.
func parseCount(digits []byte) (count uint64, reason string) {
	if len(digits) == 0 {
		return 0, reasonNoCount
	}
	for _, c := range digits {
		d := uint64(c - '0')
		if d > 9 {
			return 0, reasonCount
		}
		if count > (1<<64-1-d)/10 {
			return 0, reasonOverflow
		}
		count = count*10 + d
	}
	return count, reasonOK
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

// lineShape classifies a line for sniff.
type lineShape uint8

const (
	shapeOther     lineShape = iota
	shapeSHA1                // 40 hex ':' digits
	shapeRange               // 35 hex ':' digits
	shapeNTLM                // 32 hex ':' digits
	shapeNTLMRange           // 27 hex ':' digits
	shapeHashLike            // another run of 16-64 hex digits, ':', digits: a damaged hash line
)

func shapeOf(line []byte) lineShape {
	i := bytes.IndexByte(line, ':')
	if i < 16 || i > 64 {
		return shapeOther
	}
	for _, c := range line[:i] {
		if unhex[c] > 0xf {
			return shapeOther
		}
	}
	for _, c := range line[i+1:] {
		if c-'0' > 9 {
			return shapeHashLike
		}
	}
	switch i {
	case 40:
		return shapeSHA1
	case 35:
		return shapeRange
	case 32:
		return shapeNTLM
	case 27:
		return shapeNTLMRange
	}
	return shapeHashLike
}

// sampleLines is how many non-empty lines sniff reads.
const sampleLines = 200

// sniff decides a file's format from its first bytes (already
// decompressed); complete says the sample is the whole file, so that a last
// line without '\n' counts too. given is the format the caller asked for;
// ranged says the file name is a downloader range name (5 hex digits).
//
// The rule: NTLM-shaped lines in the majority refuse the file (the
// downloader's -n mode; riskgate needs SHA-1), unless it is read as plain.
// For FormatAuto, a sample in which at most 2% of the lines look like
// hash lines is a password list; one in which half or more do is HIBP (a
// range file when its lines are 35-hex suffixes); anything between is
// refused, since guessing wrong either way builds a useless filter.
func sniff(sample []byte, complete bool, given Format, ranged bool) (Format, error) {
	var counts [shapeHashLike + 1]int
	lines, binary := 0, 0
	for len(sample) > 0 && lines < sampleLines {
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
		counts[shapeOf(line)]++
		if excerpt.BinaryBytes(line) {
			binary++
		}
	}
	if given == FormatPlain {
		return FormatPlain, nil
	}
	if given == FormatAuto && lines > 0 && 2*binary >= lines {
		// Read as a password list, an archive (the HIBP download is a
		// .7z) built a filter of its compressed bytes without a word.
		return 0, errors.New(excerpt.BinaryNote + ": an archive (.7z, .zip) must be extracted first (gzip is read as is); --format plain reads it as a password list anyway")
	}
	hashes := lines - counts[shapeOther]
	if ntlm := counts[shapeNTLM] + counts[shapeNTLMRange]; lines > 0 && 2*ntlm >= lines {
		return 0, errors.New("these are NTLM hashes (32 hex digits; the downloader's -n mode), not SHA-1: run haveibeenpwned-downloader without -n")
	}
	if given == FormatAuto {
		switch {
		case 50*hashes <= lines:
			return FormatPlain, nil
		case 2*hashes < lines:
			return 0, fmt.Errorf("cannot tell a HIBP file from a password list: %d of the first %d lines look like HASH:COUNT; pass --format hibp or --format plain", hashes, lines)
		}
	}
	if counts[shapeRange] > counts[shapeSHA1] {
		if !ranged {
			return 0, errors.New("lines of 35 hex digits are downloader range lines, but the file name is not their 5-digit prefix (00000.txt … FFFFF.txt)")
		}
		return FormatHIBPRange, nil
	}
	return FormatHIBP, nil
}
