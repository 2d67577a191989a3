package server_test

import (
	"strings"
	"testing"
)

// TestScoreQueryIsChecked: ?omit_signals= that is not one boolean is a 400
// naming it, before the attempt is counted, rather than read as false.
func TestScoreQueryIsChecked(t *testing.T) {
	ts := startServer(t, testOpts{})
	attempt := map[string]any{"tenant": "qcheck", "ip": "81.2.69.160", "user_id": "u-1"}
	type decision struct {
		Signals *struct {
			Tenant struct {
				Attempts10m int `json:"attempts_10m"`
			} `json:"tenant"`
		} `json:"signals"`
	}
	cases := []struct {
		query    string
		code     int
		signals  bool
		attempts int // the tenant's attempts counted, this one included
	}{
		{"", 200, true, 1},
		{"?omit_signals=yes", 400, false, 0},
		{"?omit_signals=", 400, false, 0},
		{"?omit_signals=true&omit_signals=false", 400, false, 0},
		{"?omit_signals=false", 200, true, 2},
		{"?omit_signals=true", 200, false, 0},
		{"?omit_signals=0", 200, true, 4},
		// Python's requests sends True for True: read as it always was.
		{"?omit_signals=True", 200, false, 0},
	}
	for _, c := range cases {
		var d decision
		var e apiError
		out := any(&d)
		if c.code != 200 {
			out = &e
		}
		code := httpDo(t, nil, "POST", ts.url("/v1/score"+c.query), "", attempt, out)
		if code != c.code {
			t.Fatalf("%q: %d, want %d", c.query, code, c.code)
		}
		if c.code != 200 {
			// The message lists what is accepted: it once said "true or
			// false" while 1, 0, t and TRUE were read as booleans too.
			if e.Error.Field != "omit_signals" || !strings.Contains(e.Error.Message, "true or false, 1 or 0, t or f, in any case") {
				t.Errorf("%q: error %+v, want one naming omit_signals", c.query, e.Error)
			}
			continue
		}
		if (d.Signals != nil) != c.signals {
			t.Errorf("%q: signals in the answer %v, want %v", c.query, d.Signals != nil, c.signals)
		}
		if d.Signals != nil && d.Signals.Tenant.Attempts10m != c.attempts {
			t.Errorf("%q: tenant.attempts_10m %d, want %d (a refused request must not be counted)", c.query, d.Signals.Tenant.Attempts10m, c.attempts)
		}
	}
}
