package server_test

import (
	"testing"
)

// TestTenantOverlayNameIsTheField: an overlay put, validate or promote for
// a tenant no overlay can belong to answered 400 naming the field "files"
// (the rules' invalid request); it names "tenant", as a read does.
func TestTenantOverlayNameIsTheField(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	put := map[string]any{"files": []map[string]string{{"name": "acme.yaml", "content": acmeOverlay}}}
	for _, tenant := range []string{"%2E%2E", "..%2Fx", "A%20B", ".hidden"} {
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/tenants/" + tenant + "/rules", nil},
			{"PUT", "/v1/tenants/" + tenant + "/rules", put},
			{"POST", "/v1/tenants/" + tenant + "/rules:validate", put},
			{"POST", "/v1/tenants/" + tenant + "/rules:promote", map[string]string{"rule_id": "x"}},
		} {
			var e apiError
			if code := httpDo(t, nil, tc.method, ts.url(tc.path), adminToken, tc.body, &e); code != 400 || e.Error.Field != "tenant" {
				t.Errorf("%s %s: %d %+v, want 400 naming the field tenant", tc.method, tc.path, code, e.Error)
			}
		}
	}
}
