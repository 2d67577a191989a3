package rules

import (
	"fmt"
	"strings"
)

// Error is one problem of a rule file, its position kept as data (as
// Prometheus' rulefmt does), so that an API can report file, line, rule and
// field without reading them back out of a message.
type Error struct {
	// File is the file as named in messages; "(defaults)" for a problem of
	// the defaults, such as thresholds no file sets.
	File string
	// Line is the line in File, counting from 1; 0 when the problem is not
	// on one line (an empty file, thresholds set twice).
	Line int
	// Rule is the id of the rule the problem is in, when it is in one.
	Rule string
	// Field is the key of the rule or file the problem is about ("when",
	// "action", "settings.default_mode"), when known.
	Field string
	// Err is what is wrong. Its message names the field where that reads
	// better ("when: ...", `id "Bad Id": ...`).
	Err error
}

// Error formats the problem as file:line: rule "id": message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every problem found in a ruleset, in file order. Compile
// returns one when anything is wrong.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// fileError is a problem of a whole file, or of a line outside any rule.
func fileError(file string, line int, field, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Field: field, Err: fmt.Errorf(format, args...)}
}
