package rules

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
)

// RuntimeError is a rule that failed while it ran. It says which part of
// the rule failed (when or reason), what kind of failure it was, and where
// in the expression, and never anything of the attempt: expr's own
// messages quote the values they failed on ("invalid operation:
// int(alice)"), and those values are usernames, user agents and
// attributes, which must not reach the logs.
type RuntimeError struct {
	Field  string // "when" or "reason"
	Class  string // conversion, date, regexp, index, division, type, nil, memory or runtime
	Line   int    // in the expression, from 1; 0 when unknown
	Column int    // in the expression, from 1; 0 when unknown
}

func (e *RuntimeError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s error", e.Field, e.Class)
	}
	return fmt.Sprintf("%s: %s error at line %d, column %d", e.Field, e.Class, e.Line, e.Column)
}

// RuleField is the part of the rule that failed, when or reason
// (engine.RuleFieldError): a rule whose when failed counts as not matched,
// one whose reason failed matched with its description.
func (e *RuntimeError) RuleField() string { return e.Field }

// runtimeError turns an error from the expr VM into a RuntimeError.
func runtimeError(field string, err error) error {
	re := &RuntimeError{Field: field, Class: errorClass(err)}
	var fe *file.Error
	if errors.As(err, &fe) && fe.Line > 0 {
		re.Line, re.Column = fe.Line, fe.Column+1
	}
	return re
}

// errorClass names the kind of a run-time failure from the error's type or
// the fixed start of expr's message, never from the values in it.
func errorClass(err error) string {
	var (
		ne *strconv.NumError
		se *syntax.Error
		te *time.ParseError
	)
	switch {
	case errors.As(err, &ne):
		return "conversion"
	case errors.As(err, &se):
		return "regexp"
	case errors.As(err, &te):
		return "date"
	}
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	for _, c := range errorClasses {
		if strings.Contains(msg, c.marker) {
			return c.class
		}
	}
	return "runtime"
}

var errorClasses = []struct{ marker, class string }{
	{"memory budget exceeded", "memory"},
	{"error parsing regexp", "regexp"},
	{"invalid date", "date"},
	{"invalid duration", "date"},
	{"invalid operation: int(", "conversion"},
	{"invalid operation: float(", "conversion"},
	{"cannot parse", "conversion"},
	{"cannot convert", "conversion"},
	{"out of range", "index"},
	{"divide by zero", "division"},
	{"division by zero", "division"},
	{"invalid memory address", "nil"},
	{"nil", "nil"},
	{"interface conversion", "type"},
	{"invalid operation", "type"},
	{"cannot use", "type"},
	{"cannot fetch", "type"},
}
