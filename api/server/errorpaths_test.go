package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// pathCases are candidate rule files whose problem's message names another
// of the files: the file the rule, the disable, the thresholds or the
// label was first given in. The files are compiled under their paths on
// the server; the caller must read them by the names it gave them.
var pathCases = []struct {
	name string
	a, b string // a.yaml, b.yaml
	want string // in a problem's message, naming a.yaml
	// overlay: only an overlay has the problem (the shared set refuses a
	// disable: whatever it names).
	overlay bool
}{
	{"duplicate id",
		"rules:\n  - id: dup\n    description: D.\n    when: attempt.channel == \"web\"\n    action: deny\n",
		"rules:\n  - id: dup\n    description: D.\n    when: attempt.channel == \"api\"\n    action: deny\n",
		"first defined at a.yaml:2", false},
	{"thresholds twice",
		"thresholds: {step_up: 30, deny: 70}\nrules:\n  - id: one\n    description: O.\n    when: attempt.channel == \"web\"\n    action: deny\n",
		"thresholds: {step_up: 20, deny: 60}\nrules:\n  - id: two\n    description: T.\n    when: attempt.channel == \"api\"\n    action: deny\n",
		"thresholds already set in a.yaml", false},
	{"two labels",
		"version: one\nrules:\n  - id: one\n    description: O.\n    when: attempt.channel == \"web\"\n    action: deny\n",
		"version: two\nrules:\n  - id: two\n    description: T.\n    when: attempt.channel == \"api\"\n    action: deny\n",
		"(in a.yaml): set one label", false},
	{"disabled twice", // an overlay's own
		"disable: [scripted-client]\n", "disable: [scripted-client]\n",
		"already disabled at a.yaml:1", true},
}

// TestRejectedRulesNameNoServerPath: a candidate that does not compile is
// answered with its problems naming the files as the request named them,
// in the messages too ("first defined at a.yaml:2"), never by the paths
// they were compiled under on the server: a tenant's admin (put and
// validate of its overlay, HTTP and gRPC) must not learn the server's
// folders, and the shared routes' rejected() promises the admin as much.
func TestRejectedRulesNameNoServerPath(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": acmeToken}})
	rc := pb.NewRulesServiceClient(ts.grpcConn(t))
	ctx := withToken(context.Background(), acmeToken)
	adminCtx := withToken(context.Background(), adminToken)
	leaks := func(s string) bool {
		return strings.Contains(s, ts.tenantsDir) || strings.Contains(s, ts.rulesDir)
	}
	// grpcErr is a status's message and its field violations' descriptions.
	grpcErr := func(err error) string {
		st := status.Convert(err)
		out := []string{st.Message()}
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.FieldViolations {
					out = append(out, v.Field+": "+v.Description)
				}
			}
		}
		return strings.Join(out, "\n")
	}
	for _, tc := range pathCases {
		t.Run(tc.name, func(t *testing.T) {
			files := []map[string]string{{"name": "a.yaml", "content": tc.a}, {"name": "b.yaml", "content": tc.b}}
			pbFiles := []*pb.RuleFile{{Name: "a.yaml", Content: tc.a}, {Name: "b.yaml", Content: tc.b}}
			check := func(what, answer string) {
				t.Helper()
				if leaks(answer) || !strings.Contains(answer, tc.want) {
					t.Errorf("%s: want %q and no server path (%s, %s), got %s", what, tc.want, ts.tenantsDir, ts.rulesDir, answer)
				}
			}
			httpCall := func(method, path, token string, body any) string {
				t.Helper()
				var raw json.RawMessage
				code := httpDo(t, nil, method, ts.url(path), token, body, &raw)
				if code != 200 && code != 400 {
					t.Fatalf("%s %s: %d %s", method, path, code, raw)
				}
				return string(raw)
			}

			// A tenant's admin, on its overlay.
			check("PUT /v1/tenants/acme/rules", httpCall("PUT", "/v1/tenants/acme/rules", acmeToken, map[string]any{"files": files}))
			check("POST /v1/tenants/acme/rules:validate", httpCall("POST", "/v1/tenants/acme/rules:validate", acmeToken, map[string]any{"files": files}))
			_, err := rc.PutTenant(ctx, &pb.PutTenantRulesRequest{Tenant: "acme", Files: pbFiles})
			check("grpc PutTenant", grpcErr(err))
			v, err := rc.ValidateTenant(ctx, &pb.ValidateTenantRulesRequest{Tenant: "acme", Files: pbFiles})
			if err != nil {
				t.Fatal(err)
			}
			check("grpc ValidateTenant", prototext.Format(v))

			if tc.overlay {
				return
			}
			// The admin, on the shared set (loaded from a folder, so the
			// files are compiled under its paths too).
			check("PUT /v1/rules", httpCall("PUT", "/v1/rules", adminToken, map[string]any{"files": files}))
			check("POST /v1/rules:validate", httpCall("POST", "/v1/rules:validate", adminToken, map[string]any{"files": files}))
			attempt := map[string]any{"ip": "81.2.69.160", "user_id": "u1"}
			check("POST /v1/rules:test", httpCall("POST", "/v1/rules:test", adminToken, map[string]any{"files": files, "attempt": attempt}))
			_, err = rc.Put(adminCtx, &pb.PutRulesRequest{Files: pbFiles})
			check("grpc Put", grpcErr(err))
		})
	}

	// The same files written to acme's folder on the server: its rules
	// view names them as the put's answer did (reload_error, base names).
	tc := pathCases[0]
	dir := filepath.Join(ts.tenantsDir, "acme")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"a.yaml": tc.a, "b.yaml": tc.b} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var raw json.RawMessage
	waitFor(t, "acme's files rejected", func() bool {
		raw = nil
		return httpDo(t, nil, "GET", ts.url("/v1/tenants/acme/rules"), acmeToken, nil, &raw) == 200 && strings.Contains(string(raw), `"reload_error":{`)
	})
	if s := string(raw); leaks(s) || !strings.Contains(s, tc.want) {
		t.Errorf("acme's rules view: want %q and no server path, got %s", tc.want, s)
	}
}
