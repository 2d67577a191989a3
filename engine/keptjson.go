package engine

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// appendKept appends the JSON of the decision kept for retries: the bytes
// json.Marshal makes of keptDecision{Decision: *d without its signals,
// BeforePassword: &before}, written without reflection. Every Score
// with an attempt_id writes one, and json.Marshal of the ~1.2 KB
// Decision was a fifth of such a Score's time (benchmarks/README.md,
// "With attempt ids"). The bytes are the same as json.Marshal's, not
// merely equivalent: nodes of earlier versions read these records from
// a shared store (FuzzAppendKept holds the two to each other).
//
// ok is false for a time RFC 3339 cannot hold (a year outside 0-9999,
// a zone more than a day away), which json.Marshal refuses too.
func appendKept(b []byte, d *Decision, before bool) (_ []byte, ok bool) {
	b = append(b, `{"decision_id":`...)
	b = appendJSONString(b, d.DecisionID)
	b = append(b, `,"attempt_id":`...)
	b = appendJSONString(b, d.AttemptID)
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, d.Tenant)
	b = append(b, `,"time":"`...)
	// AppendText is what Time.MarshalJSON writes between its quotes.
	b, err := d.Time.AppendText(b)
	if err != nil {
		return b, false
	}
	b = append(b, `","action":`...)
	b = appendJSONString(b, d.Action.String())
	b = append(b, `,"score":`...)
	b = strconv.AppendInt(b, int64(d.Score), 10)
	b = append(b, `,"reasons":`...)
	b = appendReasons(b, d.Reasons)
	if len(d.Shadow) > 0 {
		b = append(b, `,"shadow":`...)
		b = appendReasons(b, d.Shadow)
	}
	if d.Alert {
		b = append(b, `,"alert":true`...)
	}
	if len(d.Notify) > 0 {
		b = append(b, `,"notify":`...)
		b = appendStrings(b, d.Notify)
	}
	b = append(b, `,"rules_version":`...)
	b = appendJSONString(b, d.RulesVersion)
	b = append(b, `,"before_password":`...)
	b = strconv.AppendBool(b, before)
	return append(b, '}'), true
}

func appendReasons(b []byte, rs []Reason) []byte {
	if rs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range rs {
		r := &rs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = appendJSONString(b, r.RuleID)
		b = append(b, `,"action":`...)
		b = appendJSONString(b, r.Action.String())
		b = append(b, `,"score":`...)
		b = strconv.AppendInt(b, int64(r.Score), 10)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, r.Message)
		if len(r.Tags) > 0 {
			b = append(b, `,"tags":`...)
			b = appendStrings(b, r.Tags)
		}
		if r.Alert {
			b = append(b, `,"alert":true`...)
		}
		if r.Notify != "" {
			b = append(b, `,"notify":`...)
			b = appendJSONString(b, r.Notify)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s quoted as json.Marshal quotes it. The
// strings of a decision are ids, rule names and messages: printable text
// without quotes, backslashes or the characters json.Marshal escapes for
// HTML (<, >, &), written as they are. Anything else (control
// characters, invalid UTF-8, U+2028 and U+2029, the HTML characters) is
// left to json.Marshal itself, which is then right by construction.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendMarshaled(b, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return appendMarshaled(b, s)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendMarshaled(b []byte, s string) []byte {
	js, _ := json.Marshal(s) // a string always marshals
	return append(b, js...)
}
