package httpapi

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/riskgate/riskgate/api/wire"
)

// The appenders below write JSON exactly as encoding/json does with HTML
// escaping off (WriteJSON's settings), for the generated encoder of the
// Decision (decision_json.go): the one body every Score returns, encoded
// without reflection. A value encoding/json would refuse (a NaN, a year
// past 9999) makes the encoder report false, and WriteJSON falls back to
// encoding/json, which gives its usual error. TestDecisionJSON holds the
// bytes equal to encoding/json's.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: invalid UTF-8 as U+FFFD,
// U+2028 and U+2029 escaped, as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	// Most of a Decision's strings are short and plain: written in one go.
	i := 0
	if len(s) < 8 {
		for i < len(s) && wire.IsPlain(s[i]) {
			i++
		}
	} else {
		i = wire.PlainPrefix(s)
	}
	if i == len(s) {
		b = append(b, s...)
		return append(b, '"')
	}
	start := 0
	for i < len(s) {
		// Runs of bytes written as they are, eight at a time.
		if i += wire.PlainPrefix(s[i:]); i == len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf { // not plain: escaped
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONInt appends v as strconv.AppendInt(b, v, 10) does. Most of
// a Decision's ~60 numbers are counts and flags below 100 (callgrind:
// ~110 instructions each through strconv), written here directly.
func appendJSONInt(b []byte, v int64) []byte {
	if uint64(v) < 100 {
		return appendSmall(b, uint8(v))
	}
	return strconv.AppendInt(b, v, 10)
}

// appendJSONUint appends v as strconv.AppendUint(b, v, 10) does.
func appendJSONUint(b []byte, v uint64) []byte {
	if v < 100 {
		return appendSmall(b, uint8(v))
	}
	return strconv.AppendUint(b, v, 10)
}

// appendSmall appends v < 100 in decimal.
func appendSmall(b []byte, v uint8) []byte {
	if v < 10 {
		return append(b, '0'+v)
	}
	return append(b, '0'+v/10, '0'+v%10)
}

// appendJSONFloat appends f as encoding/json writes a float64; false for
// NaN and infinities, which JSON cannot carry.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 && (f != 0 || !math.Signbit(f)) { // not -0
		// Counts and whole scores, most of a Decision's numbers: the same
		// digits as the shortest 'f' form, without its search.
		return appendJSONInt(b, int64(f)), true
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	if format == 'f' {
		return appendFloatF(b, f), true
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// floatMemo writes a float64 equal to the last it wrote by copying that
// one's text: a Decision's RBA terms for a user's known network, country,
// browser and OS are often one value, and each written by strconv's
// shortest-digits search cost about a thousand instructions (callgrind,
// the HTTP Score's encoder). Equal is equal bits, so 0 and -0 differ. The
// text is found by its offsets in b, so a memo serves one function's
// appends to one b, which nothing truncates meanwhile.
type floatMemo struct {
	bits       uint64
	start, end int // the last float's text is b[start:end]; end 0: none yet
}

// append appends f as appendJSONFloat does.
func (m *floatMemo) append(b []byte, f float64) ([]byte, bool) {
	bits := math.Float64bits(f)
	if m.end != 0 && bits == m.bits {
		return append(b, b[m.start:m.end]...), true
	}
	start := len(b)
	b, ok := appendJSONFloat(b, f)
	if ok {
		m.bits, m.start, m.end = bits, start, len(b)
	}
	return b, ok
}

// appendFloatF appends f as strconv.AppendFloat(b, f, 'f', -1, 64) does,
// from the same shortest digits in the 'e' form, which strconv copies in
// one go where the 'f' form appends them a byte at a time (callgrind: a
// Decision's dozen fractions, its RBA terms and distances, cost ~5,500
// instructions in that loop).
func appendFloatF(b []byte, f float64) []byte {
	var buf [32]byte // the longest 'e' form, -d.dddddddddddddddde-308, is 24
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	if e[0] == '-' {
		b = append(b, '-')
		e = e[1:]
	}
	// e is d[.ddd]e±dd or d[.ddd]e±ddd: an exponent of two digits or three.
	n := len(e)
	exp := int(e[n-2]-'0')*10 + int(e[n-1]-'0')
	k := n - 4 // the 'e'
	if e[k] != 'e' {
		k--
		exp += 100 * int(e[k+2]-'0')
	}
	if e[k+1] == '-' {
		exp = -exp
	}
	digits := e[:k]
	if len(digits) > 1 { // d.ddd: the point out, the first digit moved up
		digits[1] = digits[0]
		digits = digits[1:]
	}
	switch dp := exp + 1; {
	case dp <= 0: // 0.000ddd
		b = append(b, '0', '.')
		b = appendZeros(b, -dp)
		b = append(b, digits...)
	case dp >= len(digits): // ddd000, no point
		b = append(b, digits...)
		b = appendZeros(b, dp-len(digits))
	default: // dd.ddd
		b = append(b, digits[:dp]...)
		b = append(b, '.')
		b = append(b, digits[dp:]...)
	}
	return b
}

const zeros = "0000000000000000000000"

// appendZeros appends n zeros.
func appendZeros(b []byte, n int) []byte {
	for ; n > len(zeros); n -= len(zeros) {
		b = append(b, zeros...)
	}
	return append(b, zeros[:n]...)
}

// appendJSONTime appends t as time.Time.MarshalJSON does; false where it
// refuses: a year outside 0-9999, a zone offset of 24 hours or more.
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	// A Decision's time is the engine's clock, in a zone of offset 0 on
	// servers (UTC or Local set to it), which RFC 3339 writes as Z.
	if _, off := t.Zone(); off == 0 {
		u := t.UTC()
		if y, mo, d := u.Date(); 0 <= y && y <= 9999 {
			return appendUTC(b, y, int(mo), d, u), true
		}
	}
	n0 := len(b) + 1
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	if len(b) < n0+len("9999-") || b[n0+len("9999")] != '-' {
		return b, false
	}
	if b[len(b)-1] != 'Z' {
		c := b[len(b)-len("Z07:00")]
		h := b[len(b)-len("07:00"):]
		if '0' <= c && c <= '9' || 10*(h[0]-'0')+(h[1]-'0') >= 24 {
			return b, false
		}
	}
	return append(b, '"'), true
}

// appendUTC appends t, in UTC, of year y (0-9999), month mo and day d, as
// time.Time.MarshalJSON does (RFC 3339 with the nanoseconds' trailing
// zeros cut, and Z), with two digits at a time rather than AppendFormat's
// general loop (callgrind: ~850 instructions a Decision).
func appendUTC(b []byte, y, mo, d int, t time.Time) []byte {
	h, mi, s := t.Clock()
	var buf [len(`"2006-01-02T15:04:05.999999999Z"`)]byte
	buf[0] = '"'
	put2(buf[1:], y/100)
	put2(buf[3:], y%100)
	buf[5] = '-'
	put2(buf[6:], mo)
	buf[8] = '-'
	put2(buf[9:], d)
	buf[11] = 'T'
	put2(buf[12:], h)
	buf[14] = ':'
	put2(buf[15:], mi)
	buf[17] = ':'
	put2(buf[18:], s)
	n := 20
	if ns := t.Nanosecond(); ns != 0 {
		buf[20] = '.'
		for i := 29; i > 20; i-- {
			buf[i] = byte('0' + ns%10)
			ns /= 10
		}
		n = 30
		for buf[n-1] == '0' {
			n--
		}
	}
	buf[n], buf[n+1] = 'Z', '"'
	return append(b, buf[:n+2]...)
}

// put2 writes v (0-99) as two digits at the start of b.
func put2(b []byte, v int) {
	b[0], b[1] = byte('0'+v/10), byte('0'+v%10)
}
