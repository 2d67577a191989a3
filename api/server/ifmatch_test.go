package server_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/rules"
)

// TestIfMatch: If-Match on the changes of rules is RFC 9110's: "*" or a
// list of entity tags, compared strongly with the version in force (a weak
// tag never matches), 412 precondition_failed naming If-Match and the
// version in force when none matches, 400 naming If-Match when it is
// neither. The body's if_version keeps its 409. The puts send the rules in
// force again, so that the version stays the same from case to case.
func TestIfMatch(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": acmeToken}})
	rulesBody := map[string]any{"files": []map[string]string{{"name": "rules.yaml", "content": string(rules.DefaultSource().Data)}}}
	acmeBody := map[string]any{"files": []map[string]string{{"name": "acme.yaml", "content": acmeOverlay}}}
	var shared, acme struct {
		Version string `json:"version"`
		Overlay *struct {
			Version string `json:"version"`
		} `json:"overlay"`
	}
	if code := httpDo(t, nil, "PUT", ts.url("/v1/rules"), adminToken, rulesBody, &shared); code != 200 {
		t.Fatalf("put the rules: %d", code)
	}
	if code := httpDo(t, nil, "PUT", ts.url("/v1/tenants/acme/rules"), adminToken, acmeBody, &acme); code != 200 || acme.Overlay == nil {
		t.Fatalf("put acme's overlay: %d", code)
	}
	v, ov := shared.Version, acme.Overlay.Version
	const stale = "sha256:000000000000"
	withIfVersion := func(body map[string]any, version string) map[string]any {
		out := map[string]any{"if_version": version}
		for k, x := range body {
			out[k] = x
		}
		return out
	}

	for _, tc := range []struct {
		name, method, path string
		ifMatch            []string // header fields; nil: none
		body               map[string]any
		want               int
		code, field        string
		message            []string // in the error's message
	}{
		{name: "absent", ifMatch: nil, want: 200},
		{name: "exact match", ifMatch: []string{`"` + v + `"`}, want: 200},
		{name: "*", ifMatch: []string{"*"}, want: 200},
		{name: "a list holding the version", ifMatch: []string{`"` + stale + `", W/"x", "` + v + `"`}, want: 200},
		{name: "two fields, the second holding the version", ifMatch: []string{`"` + stale + `"`, `"` + v + `"`}, want: 200},
		{name: "empty list elements", ifMatch: []string{` , "` + v + `" ,, `}, want: 200},
		{name: "a list not holding it", ifMatch: []string{`"` + stale + `", "other"`}, want: 412,
			code: "precondition_failed", message: []string{"If-Match", `"` + v + `"`}},
		{name: "a weak tag equal to the version", ifMatch: []string{`W/"` + v + `"`}, want: 412,
			code: "precondition_failed", message: []string{"If-Match", `"` + v + `"`, "weak"}},
		{name: "unquoted", ifMatch: []string{v}, want: 400, code: "invalid_argument", message: []string{"If-Match"}},
		{name: "unterminated", ifMatch: []string{`"` + v}, want: 400, code: "invalid_argument", message: []string{"If-Match"}},
		{name: "no comma between tags", ifMatch: []string{`"` + v + `" "x"`}, want: 400, code: "invalid_argument", message: []string{"If-Match"}},
		{name: "* in a list", ifMatch: []string{`*, "` + v + `"`}, want: 400, code: "invalid_argument", message: []string{"If-Match"}},
		{name: "empty", ifMatch: []string{""}, want: 400, code: "invalid_argument", message: []string{"If-Match"}},
		{name: "stale if_version: 409", body: withIfVersion(rulesBody, stale), want: 409, code: "aborted", field: "if_version"},
		{name: "stale if_version with *: 409", ifMatch: []string{"*"}, body: withIfVersion(rulesBody, stale), want: 409, code: "aborted", field: "if_version"},
		{name: "if_version among the tags", ifMatch: []string{`"x", "` + v + `"`}, body: withIfVersion(rulesBody, v), want: 200},
		{name: "if_version not among the tags", ifMatch: []string{`"` + v + `"`}, body: withIfVersion(rulesBody, stale), want: 400, code: "invalid_argument", field: "if_version"},

		{name: "promote, a stale tag", method: "POST", path: "/v1/rules:promote", ifMatch: []string{`"` + stale + `"`},
			body: map[string]any{"rule_id": "surge-watch"}, want: 412, code: "precondition_failed", message: []string{"If-Match", v}},

		{name: "overlay, exact match", path: "/v1/tenants/acme/rules", ifMatch: []string{`"` + ov + `"`}, body: acmeBody, want: 200},
		{name: "overlay, *", path: "/v1/tenants/acme/rules", ifMatch: []string{"*"}, body: acmeBody, want: 200},
		{name: "overlay, the shared version", path: "/v1/tenants/acme/rules", ifMatch: []string{`"` + v + `"`}, body: acmeBody, want: 412,
			code: "precondition_failed", message: []string{"If-Match", "tenant acme", ov}},
		{name: "overlay, weak", path: "/v1/tenants/acme/rules", ifMatch: []string{`W/"` + ov + `"`}, body: acmeBody, want: 412,
			code: "precondition_failed", message: []string{"If-Match", ov, "weak"}},
		{name: "no overlay, *", path: "/v1/tenants/beta/rules", ifMatch: []string{"*"}, body: acmeBody, want: 412,
			code: "precondition_failed", message: []string{"If-Match", "tenant beta", "none"}},
		{name: "no overlay, a tag", path: "/v1/tenants/beta/rules", ifMatch: []string{`"` + ov + `"`}, body: acmeBody, want: 412,
			code: "precondition_failed", message: []string{"If-Match", "tenant beta"}},
		{name: "overlay promote, stale", method: "POST", path: "/v1/tenants/acme/rules:promote", ifMatch: []string{`"tenant:acme@` + stale + `"`},
			body: map[string]any{"rule_id": "acme-legacy-app"}, want: 412, code: "precondition_failed", message: []string{"If-Match", ov}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, path, body := cmp.Or(tc.method, "PUT"), cmp.Or(tc.path, "/v1/rules"), tc.body
			if body == nil {
				body = rulesBody
			}
			data, _ := json.Marshal(body)
			req, err := http.NewRequest(method, ts.url(path), bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+adminToken)
			for _, m := range tc.ifMatch {
				req.Header.Add("If-Match", m)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			answer, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want {
				t.Fatalf("%d %s, want %d", resp.StatusCode, answer, tc.want)
			}
			if tc.want == 200 {
				return
			}
			var e apiError
			if err := json.Unmarshal(answer, &e); err != nil {
				t.Fatalf("%s: %v", answer, err)
			}
			if e.Error.Code != tc.code || e.Error.Field != tc.field {
				t.Errorf("code %q field %q, want %q %q: %s", e.Error.Code, e.Error.Field, tc.code, tc.field, answer)
			}
			for _, m := range tc.message {
				if !strings.Contains(e.Error.Message, m) {
					t.Errorf("message %q lacks %q", e.Error.Message, m)
				}
			}
		})
	}
}
