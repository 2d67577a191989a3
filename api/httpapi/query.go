package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/riskgate/riskgate/rules"
)

// checkQuery refuses a query that says what the route would not hear, as
// the JSON bodies refuse unknown fields: a parameter the route does not
// take (with the one it takes nearest to it: ?before_pasword=1,
// ?beforePassword=true), one it takes given twice (?omit_signals=true&
// omit_signals=false: which one counts?), and a query that does not parse
// (a stray % escape, a ';' separator), whose pairs url.Values would drop
// silently. params are the route's (Route.Query).
func checkQuery(raw string, params []Param) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return &requestError{http.StatusBadRequest, "invalid_argument", "query: " + err.Error(), ""}
	}
	// In the query's order, so that the first problem is the one named.
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue // as ParseQuery skips it
		}
		key, _, _ := strings.Cut(pair, "=")
		name, _ := url.QueryUnescape(key) // ParseQuery has unescaped it
		p, ok := findParam(params, name)
		switch {
		case !ok:
			return &requestError{http.StatusBadRequest, "invalid_argument", unknownParam(name, params), name}
		case len(q[name]) > 1 && !p.Repeated:
			return &requestError{http.StatusBadRequest, "invalid_argument",
				fmt.Sprintf("query parameter %.64q: given %d times, want it once", name, len(q[name])), name}
		}
	}
	return nil
}

func findParam(params []Param, name string) (Param, bool) {
	for _, p := range params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// unknownParam is the message of a query parameter the route does not
// take: the nearest it takes when the name looks like a typo of one (the
// "did you mean" of the rules and the configuration file), else what it
// takes.
func unknownParam(name string, params []Param) string {
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	msg := fmt.Sprintf("query parameter %.64q: unknown", name)
	near := ""
	for _, n := range names {
		if strings.EqualFold(n, name) { // BEFORE_PASSWORD: no typo, the case
			near = n
		}
	}
	if near == "" {
		near = rules.Nearest(name, names)
	}
	switch {
	case near != "":
		return msg + fmt.Sprintf("; did you mean %q?", near)
	case len(names) == 0:
		return msg + " (this route takes no query parameters)"
	}
	return msg + " (this route takes " + strings.Join(names, ", ") + ")"
}
