package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// ifMatch is a request's If-Match (RFC 9110 13.1.1): "*", or a list of
// entity tags compared with the version in force by strong comparison, so
// that a weak tag (W/"...") never matches. The rules' ETag is their
// version, quoted.
type ifMatch struct {
	present bool
	any     bool     // "*": the condition holds when there is a version in force
	strong  []string // the strong tags' opaque values, unquoted
	weak    bool     // the list has weak tags (which match nothing)
}

// errIfMatchSyntax is the answer to an If-Match that is neither "*" nor a
// list of entity tags.
func errIfMatchSyntax(v string) error {
	return &requestError{http.StatusBadRequest, "invalid_argument",
		fmt.Sprintf(`If-Match: want "*" or a list of quoted entity tags (as the ETag header gives them: "sha256:023ffc7acfc1"), got %.80q`, v), ""}
}

// parseIfMatch reads the If-Match fields of h (several make one list).
func parseIfMatch(h http.Header) (ifMatch, error) {
	vs := h.Values("If-Match")
	if len(vs) == 0 {
		return ifMatch{}, nil
	}
	v := strings.Join(vs, ", ")
	m := ifMatch{present: true}
	if strings.Trim(v, " \t") == "*" {
		m.any = true
		return m, nil
	}
	rest := v
	for {
		// Empty elements are allowed in a list (RFC 9110 5.6.1).
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			break
		}
		weak := strings.HasPrefix(rest, "W/")
		if weak {
			rest = rest[2:]
		}
		if rest == "" || rest[0] != '"' {
			return ifMatch{}, errIfMatchSyntax(v)
		}
		end := 1
		for end < len(rest) && etagc(rest[end]) {
			end++
		}
		if end == len(rest) || rest[end] != '"' {
			return ifMatch{}, errIfMatchSyntax(v)
		}
		if weak {
			m.weak = true
		} else {
			m.strong = append(m.strong, rest[1:end])
		}
		rest = strings.TrimLeft(rest[end+1:], " \t")
		if rest != "" && rest[0] != ',' {
			return ifMatch{}, errIfMatchSyntax(v)
		}
	}
	if len(m.strong) == 0 && !m.weak {
		return ifMatch{}, errIfMatchSyntax(v) // no tag at all
	}
	return m, nil
}

// etagc reports whether c may be in an entity tag's quotes: a visible
// character but '"', or obs-text.
func etagc(c byte) bool { return c == 0x21 || c >= 0x23 && c != 0x7f }

// agrees checks if_version against the If-Match of the same request: with
// a list of tags, if_version must be one of its strong tags.
func (m ifMatch) agrees(ifVersion string) error {
	if ifVersion == "" || !m.present || m.any || slices.Contains(m.strong, ifVersion) {
		return nil
	}
	return &engine.FieldError{Field: "if_version", Msg: "differs from If-Match (not one of its strong entity tags)"}
}

// inForce reports the version in force of what a change would replace,
// and whether there is one (a tenant without an overlay has none).
type inForce func() (version string, ok bool)

// precondition is what a change of rules is made conditional on: the
// version the service must find in force ("" for none), and whether it
// came from If-Match (a failure is then 412, else the 409 of if_version).
type precondition struct {
	version string
	header  bool
}

// check evaluates the If-Match of a request against the version in force,
// and returns the precondition for the service (which checks it again
// with the change: the version may change in between), or the 412.
// ifVersion is the body's if_version, which agrees with If-Match.
func (m ifMatch) check(ifVersion string, current inForce, what string) (precondition, error) {
	if !m.present {
		return precondition{version: ifVersion}, nil
	}
	version, ok := current()
	switch {
	case m.any && ok:
		return precondition{version: ifVersion}, nil
	case ok && slices.Contains(m.strong, version):
		if ifVersion != "" {
			return precondition{version: ifVersion}, nil
		}
		return precondition{version: version, header: true}, nil
	}
	return precondition{}, m.failed(version, ok, what)
}

// failed is the 412 of an If-Match that does not match the version in
// force of what (the "ruleset", tenant acme's "overlay").
func (m ifMatch) failed(version string, ok bool, what string) error {
	var msg string
	switch {
	case !ok && m.any:
		msg = fmt.Sprintf("If-Match: * needs the %s in force, and there is none", what)
	case !ok:
		msg = fmt.Sprintf("If-Match: there is no %s in force, so none of its entity tags matches", what)
	default:
		msg = fmt.Sprintf("If-Match: the version of the %s in force is %q, which none of its entity tags matches", what, version)
	}
	if m.weak {
		msg += ` (a weak tag, W/"...", never matches: If-Match compares strongly)`
	}
	return &requestError{http.StatusPreconditionFailed, "precondition_failed", msg, ""}
}

// changeFailed answers err, the service's refusal of a change made under
// cond: a version changed since If-Match was checked is a 412 as well.
func (a *API) changeFailed(w http.ResponseWriter, err error, cond precondition, current inForce, what string) {
	if cond.header && errors.Is(err, rules.ErrVersionMismatch) {
		version, ok := current()
		a.failRequest(w, ifMatch{}.failed(version, ok, what))
		return
	}
	a.fail(w, err)
}
