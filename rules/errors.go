package rules

import (
	"errors"
	"fmt"
	"slices"
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

// renamedErr is err with every file path in its message replaced by r, for
// a caller who knows the files by other names (a request's names for the
// files it sent, a tenant's base names for its folder's files): an Error's
// message may name other files than its own, by the paths they were
// compiled under (a duplicate id's "first defined at FILE:LINE",
// "thresholds already set in FILE", a label "already set (in FILE)", a
// read error's "open FILE"). err is kept when its message names none.
func renamedErr(err error, r *strings.Replacer) error {
	if r == nil {
		return err
	}
	if msg := err.Error(); r.Replace(msg) != msg {
		return errors.New(r.Replace(msg))
	}
	return err
}

// pathReplacer replaces each path of pairs (path, name, ...) with its name,
// the longest path first where one is the start of another; nil when
// nothing is renamed.
func pathReplacer(pairs ...string) *strings.Replacer {
	type pair struct{ old, new string }
	var ps []pair
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] != "" && pairs[i] != pairs[i+1] {
			ps = append(ps, pair{pairs[i], pairs[i+1]})
		}
	}
	if len(ps) == 0 {
		return nil
	}
	// A Replacer tries the old strings in argument order at each place.
	slices.SortStableFunc(ps, func(a, b pair) int { return len(b.old) - len(a.old) })
	args := make([]string, 0, 2*len(ps))
	for _, p := range ps {
		args = append(args, p.old, p.new)
	}
	return strings.NewReplacer(args...)
}

// fileError is a problem of a whole file, or of a line outside any rule.
func fileError(file string, line int, field, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Field: field, Err: fmt.Errorf(format, args...)}
}
