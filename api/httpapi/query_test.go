package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/api/service"
)

// TestQueryIsChecked: a query parameter a route does not take, one it
// takes given twice, and a query that does not parse are refused before
// the handler runs, naming the parameter, with the nearest one the route
// takes; they were ignored, so ?before_pasword=1 did nothing.
func TestQueryIsChecked(t *testing.T) {
	var served int
	handler := func(w http.ResponseWriter, r *http.Request) { served++; w.WriteHeader(http.StatusNoContent) }
	a := &API{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mux := a.Mux([]Route{
		{"GET", "/score", service.OpProbe, handler, []Param{{Name: "omit_signals"}, {Name: "before_password"}}},
		{"GET", "/metrics", service.OpProbe, handler, []Param{{Name: "name[]", Repeated: true}}},
		{"GET", "/none", service.OpProbe, handler, nil},
	})
	tests := []struct {
		target string
		field  string // "" when accepted
		msg    string
	}{
		{"/score", "", ""},
		{"/score?", "", ""},
		{"/score?omit_signals=true&before_password=1", "", ""},
		{"/score?omit_signals=true&&", "", ""},
		{"/score?beforePassword=true", "beforePassword", `query parameter "beforePassword": unknown; did you mean "before_password"?`},
		{"/score?before_pasword=1", "before_pasword", `did you mean "before_password"?`},
		{"/score?BEFORE_PASSWORD=1", "BEFORE_PASSWORD", `did you mean "before_password"?`},
		{"/score?omit-signals", "omit-signals", `did you mean "omit_signals"?`},
		{"/score?tenant=acme", "tenant", `query parameter "tenant": unknown (this route takes omit_signals, before_password)`},
		{"/score?=1", "", `query parameter "": unknown`},
		// The first in the query's order is named.
		{"/score?omit_signals=1&zz=1&aa=1", "zz", `"zz": unknown`},
		{"/score?omit_signals=true&omit_signals=false", "omit_signals", `query parameter "omit_signals": given 2 times, want it once`},
		{"/score?omit%5Fsignals=1&omit_signals=1", "omit_signals", "given 2 times"},
		// url.Values drops such pairs silently.
		{"/score?before_password=1;omit_signals=1", "", "query: invalid semicolon separator in query"},
		{"/score?omit_signals=%zz", "", `query: invalid URL escape "%zz"`},
		{"/metrics?name[]=a&name[]=b", "", ""},
		{"/metrics?name%5B%5D=a", "", ""},
		{"/metrics?name=a", "name", `did you mean "name[]"?`},
		{"/none?format=json", "format", `query parameter "format": unknown (this route takes no query parameters)`},
	}
	for _, tt := range tests {
		served = 0
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", tt.target, nil))
		if tt.msg == "" {
			if rec.Code != http.StatusNoContent || served != 1 {
				t.Errorf("%s: %d %s, want it served", tt.target, rec.Code, rec.Body)
			}
			continue
		}
		var e errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s: %d %q: %v", tt.target, rec.Code, rec.Body, err)
		}
		if rec.Code != http.StatusBadRequest || served != 0 || e.Error.Code != "invalid_argument" ||
			e.Error.Field != tt.field || !strings.Contains(e.Error.Message, tt.msg) {
			t.Errorf("%s: %d %+v (served %d), want 400 naming %q: %q", tt.target, rec.Code, e.Error, served, tt.field, tt.msg)
		}
	}
}
