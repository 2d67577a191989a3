package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of objects and arrays in a message: no
// riskgate message nests more than a few levels (an outcome's attempt's
// geo is three).
const MaxDepth = 100

// CheckJSON refuses what encoding/json would let through silently, before
// a message is decoded: invalid UTF-8 and \u escapes of half a surrogate
// pair (which encoding/json replaces with U+FFFD, so that different
// inputs collide), a key given twice in one
// object (encoding/json keeps the last), and a field name that is not
// written exactly as documented (encoding/json matches names without
// regard to case, so "Ip" would set ip). riskgate's field names are all
// lower case; the keys of attributes are the caller's and kept as given.
// It also bounds the nesting (MaxDepth). Every error names the field. The
// HTTP API and the streams both use it, for messages that are JSON
// objects: any other value is refused as that first, however deep it
// nests (a top-level array past MaxDepth was "nested deeper than 100
// levels", which said nothing of what to send).
func CheckJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	path := func(string) string {
		var parts []string
		for _, f := range stack {
			if f.object && f.key != "" {
				parts = append(parts, f.key)
			}
		}
		return strings.Join(parts, ".")
	}
	var prev int64
	for started := false; ; started = true {
		if started && len(stack) == 0 {
			// The message is whole: what follows is data after it, the
			// decoder's to refuse as that, not a field of the message.
			return nil
		}
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // syntax errors are the decoder's to report
		}
		if !started {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return &Error{Msg: "message: want a JSON object, got JSON " + kindOf(tok)}
			}
		}
		off := dec.InputOffset()
		raw := data[prev:off]
		prev = off
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				afterValue(stack)
				continue
			}
			key, _ := tok.(string)
			top.key = key
			field := path("")
			if !utf8.Valid(raw) {
				return &Error{Field: field, Msg: fieldOr(field) + ": invalid UTF-8 in the name"}
			}
			if loneSurrogate(raw) {
				return &Error{Field: field, Msg: fieldOr(field) + ": a \\u escape of half a UTF-16 surrogate pair in the name"}
			}
			if top.seen[key] {
				return &Error{Field: field, Msg: field + ": given twice"}
			}
			top.seen[key] = true
			if !top.freeKeys && strings.ToLower(key) != key {
				return &Error{Field: field, Msg: field + ": unknown field (field names are lower case: " + strings.ToLower(key) + ")"}
			}
			top.wantKey = false
			continue
		}
		field := path("")
		if !utf8.Valid(raw) {
			return &Error{Field: field, Msg: fieldOr(field) + ": invalid UTF-8"}
		}
		if _, ok := tok.(string); ok && loneSurrogate(raw) {
			return &Error{Field: field, Msg: fieldOr(field) + ": a \\u escape of half a UTF-16 surrogate pair"}
		}
		if top != nil && top.freeKeys {
			// encoding/json would name only "attributes".
			if kind := nonString(tok); kind != "" {
				return &Error{Field: field, Msg: field + ": want a JSON string, got JSON " + kind}
			}
		}
		switch d, _ := tok.(json.Delim); d {
		case '{', '[':
			if len(stack) == MaxDepth {
				// encoding/json's own bound (10,000) says only "exceeded
				// max depth" at a byte offset. The top-level field is
				// named: the path down is as long as the nesting.
				top, _, _ := strings.Cut(field, ".")
				return &Error{Field: top, Msg: fmt.Sprintf("%s: nested deeper than %d levels", fieldOr(top), MaxDepth)}
			}
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			free := top != nil && top.object && top.key == "attributes"
			stack = append(stack, &frame{object: true, wantKey: true, seen: map[string]bool{}, freeKeys: free})
			continue
		case '[':
			stack = append(stack, &frame{})
			continue
		case ']':
			stack = stack[:len(stack)-1]
		}
		afterValue(stack)
	}
}

// nonString names the JSON kind of a token that is neither a string nor
// null (an attribute's value may be either), or returns "".
func nonString(tok json.Token) string {
	switch t := tok.(type) {
	case string, nil:
		return ""
	case bool:
		return "boolean"
	case json.Delim:
		if t == '{' {
			return "object"
		}
		return "array"
	default:
		return "number"
	}
}

// kindOf names the JSON kind of a value's first token, in encoding/json's
// words (UnmarshalTypeError.Value), which named the kind of a top-level
// value that is not an object before CheckJSON did.
func kindOf(tok json.Token) string {
	switch tok.(type) {
	case string:
		return "string"
	case nil:
		return "null"
	case bool:
		return "bool"
	}
	return nonString(tok)
}

// frame is an object or array CheckJSON is in.
type frame struct {
	object   bool
	wantKey  bool
	key      string
	seen     map[string]bool
	freeKeys bool // a map of the caller's keys (attributes)
}

// afterValue marks the end of a value: the innermost object wants a key.
func afterValue(stack []*frame) {
	if n := len(stack); n > 0 && stack[n-1].object {
		stack[n-1].wantKey = true
	}
}

func fieldOr(f string) string {
	if f == "" {
		return "message"
	}
	return f
}
