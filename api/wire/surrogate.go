package wire

// loneSurrogate reports whether the JSON text raw holds a \u escape of a
// UTF-16 surrogate that is not half of a pair (a high one, D800-DBFF,
// followed at once by an escaped low one, DC00-DFFF). Such an escape is
// valid JSON but no character: encoding/json decodes it to U+FFFD, so
// that "\ud800x" and "\udbffx" would become the same username. Escapes
// are read in order, so that "\\u" (a backslash, then a u) is not one.
func loneSurrogate(raw []byte) bool {
	high := false // the escape just read was a high surrogate
	for i := 0; i < len(raw); i++ {
		r := rune(-1) // what was read is not a \u escape
		if raw[i] == '\\' && i+1 < len(raw) {
			i++ // the escaped byte
			if raw[i] == 'u' {
				var ok bool
				if r, ok = hex4(raw, i+1); !ok {
					return false // not a valid escape: the decoder reports it
				}
				i += 4
			}
		}
		// A high half must be followed by a low one, and a low one follow
		// a high one.
		if low := r >= 0xDC00 && r <= 0xDFFF; low != high {
			return true
		}
		high = r >= 0xD800 && r <= 0xDBFF
	}
	return high
}

// hex4 reads four hexadecimal digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
