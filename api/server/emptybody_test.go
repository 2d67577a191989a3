package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestEmptyBodyNamesWhatIsRequired: every route whose body has a field it
// cannot do without answers an empty body (curl -X POST, curl -d "", or
// white space) with a 400 naming that field, as {} does, rather than
// only "empty, want a JSON object", which left the caller to guess what
// to send. (POST /v1/rules:backtest, whose body is optional, is
// TestBacktestBodyIsOptional's.)
func TestEmptyBodyNamesWhatIsRequired(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": "acme-admin-token-0123456789abcdef"}})
	routes := []struct {
		method, path, field string
	}{
		{"POST", "/v1/score", "ip"},
		{"POST", "/v1/outcome", "outcome"},
		{"PUT", "/v1/rules", "files"},
		{"POST", "/v1/rules:validate", "files"},
		{"POST", "/v1/rules:test", "attempt"},
		{"POST", "/v1/rules:promote", "rule_id"},
		{"PUT", "/v1/tenants/acme/rules", "files"},
		{"POST", "/v1/tenants/acme/rules:validate", "files"},
		{"POST", "/v1/tenants/acme/rules:promote", "rule_id"},
	}
	bodies := []struct {
		name, contentType, body string
	}{
		{"no body", "", ""},
		{"no body, JSON", "application/json", ""},
		{"white space", "application/json", " \r\n\t"},
	}
	for _, rt := range routes {
		for _, b := range bodies {
			t.Run(rt.method+" "+rt.path+"/"+b.name, func(t *testing.T) {
				code, data := adminRaw(t, rt.method, ts.url(rt.path), b.contentType, b.body)
				var e apiError
				if err := json.Unmarshal(data, &e); err != nil {
					t.Fatalf("%d %s: %v", code, data, err)
				}
				want := "request body: empty, want a JSON object with " + rt.field + " (required)"
				if code != http.StatusBadRequest || e.Error.Code != "invalid_argument" || e.Error.Message != want || e.Error.Field != rt.field {
					t.Errorf("%d %s, want 400 invalid_argument %q, field %q", code, data, want, rt.field)
				}
			})
		}
	}
}
