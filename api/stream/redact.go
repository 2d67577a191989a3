package stream

import (
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/wire"
	"github.com/riskgate/riskgate/engine"
)

// RedactedMarker replaces, in a dead letter, the value of a field that
// is or may be a secret. It is a JSON string (a protobuf string field
// for a protobuf message), so that the dead letter stays a valid
// message with the rest of it as it was.
const RedactedMarker = "[redacted by riskgate]"

// redactedMessage is the value of HeaderRedacted when the whole value
// was left out.
const redactedMessage = "message"

// A dead letter is a copy of a refused message, on a topic whose
// retention and access are often looser than the attempts topic's: a
// secret the engine refused to take (an attribute that looks like a
// secret, a plain password in a field of its own, a password_sha1 that
// is no SHA-1) must not reach it. redaction is what deadLetterOf writes
// instead of a message's value.
type redaction struct {
	value   []byte   // the value to write: the original, or a redacted copy; nil when dropped
	fields  []string // the paths of the values replaced by RedactedMarker, in order, once each
	dropped bool     // the value was left out whole
}

// redactDeadLetter redacts value, a message refused with cause, for its
// dead letter. format is the message's encoding (formatJSON or
// formatProto, "" when its content-type named neither); outcome says the
// message is an outcome (its attempt under "attempt").
//
// Every value of a field whose name looks like a secret
// (engine.LooksLikeSecret), at any depth, is replaced by RedactedMarker,
// whatever the refusal said (a message refused for its address may still
// carry a password attribute), except the attempt's own password_sha1
// when it is 40 hex digits, as the engine takes it (a SHA-1 is no plain
// secret, and the attempts topic holds it too); it is redacted as well
// when the refusal is about it. A message with nothing to redact is
// copied as it was.
//
// A message that cannot be parsed whole (invalid JSON or protobuf, data
// after the JSON value) cannot be redacted field by field: its value is
// left out when the refusal is about a secret, or when its bytes hold a
// word that names one (mayHoldSecret); otherwise it is copied as it was.
// A refusal about a secret whose message has no such field to redact
// (which should not happen) leaves the value out too.
func redactDeadLetter(value []byte, format string, outcome bool, cause error) redaction {
	secret, sha1 := secretCause(cause)
	var (
		out    []byte
		fields []string
		ok     bool
	)
	if format == formatProto {
		out, fields, ok = redactProto(value, outcome, sha1)
	} else {
		at := []string{"password_sha1"}
		if outcome {
			at = []string{"attempt", "password_sha1"}
		}
		out, fields, ok = redactJSON(value, at, sha1)
	}
	switch {
	case ok && len(fields) > 0:
		return redaction{value: out, fields: fields}
	case ok && !secret, !ok && !secret && !mayHoldSecret(value):
		return redaction{value: value}
	}
	return redaction{dropped: true}
}

// secretCause says whether a refusal is about a value that is or may be
// a secret: its field's name (or an attribute's key) looks like one, or
// its message says a secret or a plain password was refused. sha1 says
// it is about the attempt's password_sha1.
func secretCause(cause error) (secret, sha1 bool) {
	if field := causeField(cause); field != "" {
		sha1 = field == "password_sha1" || field == "attempt.password_sha1"
		secret = sha1 || looksLikeSecret(field)
		// An attribute's key may hold dots: "attributes.user.pin" is the
		// key "user.pin".
		if _, key, ok := strings.Cut(field, "attributes."); ok && looksLikeSecret(key) {
			secret = true
		}
		for part := range strings.SplitSeq(field, ".") {
			secret = secret || looksLikeSecret(part)
		}
	}
	if cause != nil {
		msg := cause.Error()
		secret = secret || strings.Contains(msg, engine.SecretMsg) || strings.Contains(msg, engine.PlainPasswordMsg)
	}
	return secret, sha1
}

// causeField is the field a refusal names, if it names one.
func causeField(cause error) string {
	if fe, ok := errors.AsType[*engine.FieldError](cause); ok {
		return fe.Field
	}
	if we, ok := errors.AsType[*wire.Error](cause); ok {
		return we.Field
	}
	return ""
}

// looksLikeSecret is engine.LooksLikeSecret (which sees through invisible
// characters and fullwidth letters), also of the name without what a
// decoder may have put inside a word: bytes that are not UTF-8, and
// U+FFFD, what a decoder makes of them ("pass\xffword").
func looksLikeSecret(name string) bool {
	if engine.LooksLikeSecret(name) {
		return true
	}
	clean := strings.ReplaceAll(strings.ToValidUTF8(name, ""), "\uFFFD", "")
	return clean != name && engine.LooksLikeSecret(clean)
}

// mayHoldSecret says whether raw bytes that could not be parsed hold a
// word that names a secret: a run of ASCII letters, digits and the
// separators engine.LooksLikeSecret splits at (a JSON \u escape of
// ASCII read as its character, so "pass\u0077ord" is seen) that looks
// like one. It errs on the side of yes.
func mayHoldSecret(raw []byte) bool {
	run := make([]byte, 0, 64)
	check := func() bool {
		found := len(run) > 0 && engine.LooksLikeSecret(string(run))
		run = run[:0]
		return found
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+5 < len(raw) && raw[i+1] == 'u' {
			if r, ok := hex4(raw[i+2 : i+6]); ok && r < utf8.RuneSelf {
				c = byte(r)
				i += 5
			}
		}
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("_-. :/", c) >= 0:
			run = append(run, c)
		default:
			if check() {
				return true
			}
		}
	}
	return check()
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) != 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b), 16, 16)
	return rune(v), err == nil
}

// isSHA1 says whether s is what the engine takes as password_sha1: 40
// hex digits.
func isSHA1(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 40 && err == nil
}

func redactProto(data []byte, outcome, sha1 bool) (out []byte, fields []string, ok bool) {
	var (
		msg     proto.Message
		a       *pb.Attempt
		prefix  string
		attempt pb.Attempt
		report  pb.ReportRequest
	)
	if outcome {
		msg, prefix = &report, "attempt."
	} else {
		msg, a = &attempt, &attempt
	}
	if err := proto.Unmarshal(data, msg); err != nil {
		return nil, nil, false
	}
	if outcome {
		a = report.Attempt
	}
	if a == nil {
		return data, nil, true
	}
	if a.PasswordSha1 != "" && (sha1 || !isSHA1(a.PasswordSha1)) {
		a.PasswordSha1 = RedactedMarker
		fields = append(fields, prefix+"password_sha1")
	}
	keys := make([]string, 0, len(a.Attributes))
	for k := range a.Attributes {
		if looksLikeSecret(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		a.Attributes[k] = RedactedMarker
		fields = append(fields, prefix+"attributes."+k)
	}
	if len(fields) == 0 {
		return data, nil, true
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, nil, false
	}
	return out, fields, true
}

// redactJSON replaces, in the JSON value data, the value of every member
// whose name looks like a secret with the string RedactedMarker: at any
// depth, objects and arrays whole, each of a name given twice. The member
// at the path sha1At (from the top-level object, through objects only:
// the attempt's password_sha1) is kept when it is a string of 40 hex
// digits and keepSHA1 is false. Everything else is kept byte for byte.
// ok is false when data is not one JSON value (with white space around
// it), which is then not redacted; out is data itself when nothing was.
// fields are the paths of the values redacted, their names joined by
// dots (arrays add nothing, as in the errors' field names).
func redactJSON(data []byte, sha1At []string, forceSHA1 bool) (out []byte, fields []string, ok bool) {
	p := jsonRedactor{data: data, sha1At: sha1At, forceSHA1: forceSHA1}
	p.space()
	if !p.value(0) {
		return nil, nil, false
	}
	p.space()
	if p.i != len(data) {
		return nil, nil, false
	}
	if len(p.spans) == 0 {
		return data, nil, true
	}
	size := len(data)
	for _, s := range p.spans {
		size += len(RedactedMarker) + 2 - (s.end - s.start)
	}
	out = make([]byte, 0, size)
	last := 0
	seen := make(map[string]bool, len(p.spans))
	for _, s := range p.spans {
		out = append(out, data[last:s.start]...)
		out = append(out, '"')
		out = append(out, RedactedMarker...)
		out = append(out, '"')
		last = s.end
		if !seen[s.path] {
			seen[s.path] = true
			fields = append(fields, s.path)
		}
	}
	out = append(out, data[last:]...)
	return out, fields, true
}

// maxRedactDepth bounds the nesting redactJSON follows (and so its
// stack): riskgate refuses anything past wire.MaxDepth; deeper is not
// parsed, and is treated as any message that cannot be.
const maxRedactDepth = 4 * wire.MaxDepth

// jsonRedactor is a strict JSON parser (RFC 8259, except that strings may
// hold bytes that are not UTF-8, as encoding/json takes them) that notes
// the spans of the values to redact.
type jsonRedactor struct {
	data      []byte
	i         int
	sha1At    []string
	forceSHA1 bool
	path      []pathElem
	spans     []span
	muted     int // inside a value being redacted whole
}

type pathElem struct {
	key   string
	array bool
}

type span struct {
	start, end int
	path       string
}

func (p *jsonRedactor) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonRedactor) value(depth int) bool {
	if p.i >= len(p.data) {
		return false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return depth < maxRedactDepth && p.object(depth+1)
	case c == '[':
		return depth < maxRedactDepth && p.array(depth+1)
	case c == '"':
		_, ok := p.str(false)
		return ok
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return false
}

func (p *jsonRedactor) literal(s string) bool {
	if len(p.data)-p.i < len(s) || string(p.data[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

func (p *jsonRedactor) digits() int {
	n := 0
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

func (p *jsonRedactor) number() bool {
	if p.data[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.data) && p.data[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return false
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return false
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}

// str reads a string; decode returns its value (escapes resolved, a lone
// surrogate as U+FFFD, bytes that are not UTF-8 as they are).
func (p *jsonRedactor) str(decode bool) (string, bool) {
	p.i++ // '"'
	var b strings.Builder
	start := p.i
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			if decode {
				b.Write(p.data[start:p.i])
			}
			p.i++
			return b.String(), true
		case c < 0x20:
			return "", false
		case c != '\\':
			p.i++
			continue
		}
		if decode {
			b.Write(p.data[start:p.i])
		}
		if p.i+1 >= len(p.data) {
			return "", false
		}
		e := p.data[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				r2 := unicode.ReplacementChar
				if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if lo, ok := p.hex4(); ok {
						if r3 := utf16.DecodeRune(r, lo); r3 != unicode.ReplacementChar {
							r2 = r3
						} else {
							p.i = save // the next escape stands on its own
						}
					} else {
						return "", false
					}
				}
				r = r2
			}
			b.WriteRune(r)
		default:
			return "", false
		}
		start = p.i
	}
	return "", false
}

func (p *jsonRedactor) hex4() (rune, bool) {
	if len(p.data)-p.i < 4 {
		return 0, false
	}
	r, ok := hex4(p.data[p.i : p.i+4])
	p.i += 4
	return r, ok
}

func (p *jsonRedactor) array(depth int) bool {
	p.i++ // '['
	p.path = append(p.path, pathElem{array: true})
	defer func() { p.path = p.path[:len(p.path)-1] }()
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return true
	}
	for {
		p.space()
		if !p.value(depth) {
			return false
		}
		p.space()
		if p.i >= len(p.data) {
			return false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

func (p *jsonRedactor) object(depth int) bool {
	p.i++ // '{'
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return true
	}
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return false
		}
		key, ok := p.str(true)
		if !ok {
			return false
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return false
		}
		p.i++
		p.space()
		p.path = append(p.path, pathElem{key: key})
		start := p.i
		secret := p.muted == 0 && looksLikeSecret(key)
		if secret && p.atSHA1() && p.i < len(p.data) && p.data[p.i] == '"' {
			var val string
			val, ok = p.str(true)
			secret = p.forceSHA1 || !isSHA1(val)
		} else {
			if secret {
				p.muted++
			}
			ok = p.value(depth)
			if secret {
				p.muted--
			}
		}
		if ok && secret {
			p.spans = append(p.spans, span{start: start, end: p.i, path: p.pathString()})
		}
		p.path = p.path[:len(p.path)-1]
		if !ok {
			return false
		}
		p.space()
		if p.i >= len(p.data) {
			return false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// atSHA1 says whether the member being read is the attempt's
// password_sha1.
func (p *jsonRedactor) atSHA1() bool {
	if len(p.path) != len(p.sha1At) {
		return false
	}
	for i, e := range p.path {
		if e.array || e.key != p.sha1At[i] {
			return false
		}
	}
	return true
}

func (p *jsonRedactor) pathString() string {
	var b strings.Builder
	for _, e := range p.path {
		if e.array {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.key)
	}
	return b.String()
}
