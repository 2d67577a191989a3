package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

const (
	acmeToken = "acme-tenant-admin-token-0123456789"
	betaToken = "beta-tenant-admin-token-0123456789"
)

// acmeOverlay denies the legacy app for acme only, and disables a shared
// rule by id.
const acmeOverlay = `version: acme-1
disable: [scripted-client]
rules:
  - id: acme-legacy-app
    description: The legacy app is retired at acme.
    when: attempt.attributes["app"] == "legacy"
    action: deny
`

type decisionJSON struct {
	Action       string `json:"action"`
	RulesVersion string `json:"rules_version"`
	Reasons      []struct {
		RuleID string `json:"rule"`
	} `json:"reasons"`
}

type tenantJSON struct {
	Tenant        string `json:"tenant"`
	Version       string `json:"version"`
	SharedVersion string `json:"shared_version"`
	Overlay       *struct {
		Version  string   `json:"version"`
		Origin   string   `json:"origin"`
		Disabled []string `json:"disabled"`
	} `json:"overlay"`
}

// TestTenantIsolation: a tenant's admin token manages its own overlay and
// nothing else (another tenant, the shared rules, profiles: 403, on both
// APIs); the overlay decides that tenant's logins only, and the decision's
// rules_version names the shared set and the overlay.
func TestTenantIsolation(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": acmeToken, "beta": betaToken}})
	put := map[string]any{"files": []map[string]string{{"name": "acme.yaml", "content": acmeOverlay}}}

	// Forbidden: another tenant, the shared set, other admin operations.
	for _, tc := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"PUT", "/v1/tenants/beta/rules", put, 403},
		{"GET", "/v1/tenants/beta/rules", nil, 403},
		{"POST", "/v1/tenants/beta/rules:validate", put, 403},
		{"POST", "/v1/tenants/beta/rules:promote", map[string]string{"rule_id": "x"}, 403},
		{"PUT", "/v1/rules", put, 403},
		{"GET", "/v1/rules", nil, 403},
		{"POST", "/v1/rules:validate", put, 403},
		{"POST", "/v1/rules:promote", map[string]string{"rule_id": "x"}, 403},
		{"GET", "/v1/users/acme/u1", nil, 403},
		{"DELETE", "/v1/users/acme/u1", nil, 403},
	} {
		if code := httpDo(t, nil, tc.method, ts.url(tc.path), acmeToken, tc.body, nil); code != tc.want {
			t.Errorf("acme's token: %s %s: %d, want %d", tc.method, tc.path, code, tc.want)
		}
	}
	if code := httpDo(t, nil, "PUT", ts.url("/v1/tenants/acme/rules"), "", put, nil); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code := httpDo(t, nil, "PUT", ts.url("/v1/tenants/acme/rules"), "not-a-token-0123456789", put, nil); code != 401 {
		t.Errorf("unknown token: %d", code)
	}
	if entries, _ := os.ReadDir(ts.tenantsDir); len(entries) != 0 {
		t.Fatalf("refused calls wrote %d entries to the tenants folder", len(entries))
	}

	// Acme's own overlay: validate, put, read back.
	var v struct {
		Valid   bool   `json:"valid"`
		Version string `json:"version"`
	}
	if code := httpDo(t, nil, "POST", ts.url("/v1/tenants/acme/rules:validate"), acmeToken, put, &v); code != 200 || !v.Valid || !strings.Contains(v.Version, " + tenant:acme@acme-1@sha256:") {
		t.Fatalf("validate: %d %+v", code, v)
	}
	var got tenantJSON
	if code := httpDo(t, nil, "PUT", ts.url("/v1/tenants/acme/rules"), acmeToken, put, &got); code != 200 {
		t.Fatalf("put: %d", code)
	}
	if got.Overlay == nil || got.Overlay.Origin != "file" || strings.Join(got.Overlay.Disabled, ",") != "scripted-client" || got.Version != got.SharedVersion+" + "+got.Overlay.Version {
		t.Fatalf("put answered %+v", got)
	}
	if data, err := os.ReadFile(filepath.Join(ts.tenantsDir, "acme", "acme.yaml")); err != nil || string(data) != acmeOverlay {
		t.Fatalf("acme's folder: %q %v", data, err)
	}
	var beta tenantJSON
	if code := httpDo(t, nil, "GET", ts.url("/v1/tenants/beta/rules"), betaToken, nil, &beta); code != 200 || beta.Overlay != nil || beta.Version != got.SharedVersion {
		t.Fatalf("beta: %d %+v", code, beta)
	}
	// The admin reaches every tenant.
	if code := httpDo(t, nil, "GET", ts.url("/v1/tenants/acme/rules"), adminToken, nil, nil); code != 200 {
		t.Errorf("admin: %d", code)
	}

	// Decisions: the overlay decides acme's logins only.
	score := func(tenant string) decisionJSON {
		t.Helper()
		var d decisionJSON
		body := map[string]any{"tenant": tenant, "ip": "81.2.69.160", "user_id": "u1", "attributes": map[string]string{"app": "legacy"}}
		if code := httpDo(t, nil, "POST", ts.url("/v1/score"), "", body, &d); code != 200 {
			t.Fatalf("score %s: %d", tenant, code)
		}
		return d
	}
	if d := score("acme"); d.Action != "deny" || d.RulesVersion != got.Version || len(d.Reasons) == 0 || d.Reasons[0].RuleID != "acme-legacy-app" {
		t.Errorf("acme: %+v", d)
	}
	for _, tenant := range []string{"beta", "default"} {
		if d := score(tenant); d.Action == "deny" || d.RulesVersion != got.SharedVersion {
			t.Errorf("%s: %+v", tenant, d)
		}
	}

	// gRPC: the same isolation.
	ctx := context.Background()
	rc := pb.NewRulesServiceClient(dial(t, ts.addrs.GRPC, insecure.NewCredentials()))
	files := []*pb.RuleFile{{Name: "beta.yaml", Content: "disable: [scripted-client]\n"}}
	for name, call := range map[string]func(context.Context) error{
		"PutTenant beta": func(ctx context.Context) error {
			_, err := rc.PutTenant(ctx, &pb.PutTenantRulesRequest{Tenant: "beta", Files: files})
			return err
		},
		"GetTenant beta": func(ctx context.Context) error {
			_, err := rc.GetTenant(ctx, &pb.GetTenantRulesRequest{Tenant: "beta"})
			return err
		},
		"Put shared": func(ctx context.Context) error {
			_, err := rc.Put(ctx, &pb.PutRulesRequest{Files: files})
			return err
		},
		"Promote shared": func(ctx context.Context) error {
			_, err := rc.Promote(ctx, &pb.PromoteRuleRequest{RuleId: "x"})
			return err
		},
	} {
		if err := call(withToken(ctx, acmeToken)); status.Code(err) != codes.PermissionDenied {
			t.Errorf("grpc %s with acme's token: %v", name, err)
		}
	}
	r, err := rc.GetTenant(withToken(ctx, acmeToken), &pb.GetTenantRulesRequest{Tenant: "acme"})
	if err != nil || r.Version != got.Version || r.Overlay.GetVersion() != got.Overlay.Version {
		t.Fatalf("grpc GetTenant acme: %v %v", r, err)
	}
	b, err := rc.PutTenant(withToken(ctx, betaToken), &pb.PutTenantRulesRequest{Tenant: "beta", Files: files})
	if err != nil || !strings.Contains(b.Version, " + tenant:beta@sha256:") {
		t.Fatalf("grpc PutTenant beta with beta's token: %v %v", b, err)
	}
	if d := score("acme"); d.RulesVersion != got.Version {
		t.Errorf("beta's put changed acme's rules_version: %s", d.RulesVersion)
	}
}

const trialRules = `rules:
  - id: failures
    description: Failures.
    when: ip.failures_10m > 3
    action: deny
  - id: legacy-app
    description: The legacy app, on trial.
    when: attempt.attributes["app"] == "legacy"
    action: deny
    mode: shadow
`

// TestPromote: a shadow rule flipped to enforce through the API: the file
// on disk is edited, the version changes, decisions follow.
func TestPromote(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	var rs struct {
		Version string `json:"version"`
		Rules   []struct {
			ID   string `json:"id"`
			Mode string `json:"mode"`
		} `json:"rules"`
	}
	put := map[string]any{"files": []map[string]string{{"name": "rules.yaml", "content": trialRules}}}
	if code := httpDo(t, nil, "PUT", ts.url("/v1/rules"), adminToken, put, &rs); code != 200 {
		t.Fatalf("put: %d", code)
	}
	before := rs.Version
	var d decisionJSON
	body := map[string]any{"ip": "81.2.69.160", "user_id": "u1", "attributes": map[string]string{"app": "legacy"}}
	if httpDo(t, nil, "POST", ts.url("/v1/score"), "", body, &d); d.Action != "allow" {
		t.Fatalf("in shadow: %+v", d)
	}
	for _, tc := range []struct {
		body any
		want int
	}{
		{map[string]string{"rule_id": "nope"}, 404},
		{map[string]string{"rule_id": "failures"}, 400},
		{map[string]string{"rule_id": "legacy-app", "if_version": "sha256:000000000000"}, 409},
		{map[string]string{}, 400},
	} {
		if code := httpDo(t, nil, "POST", ts.url("/v1/rules:promote"), adminToken, tc.body, nil); code != tc.want {
			t.Errorf("promote %v: %d, want %d", tc.body, code, tc.want)
		}
	}
	if code := httpDo(t, nil, "POST", ts.url("/v1/rules:promote"), adminToken, map[string]string{"rule_id": "legacy-app", "if_version": before}, &rs); code != 200 {
		t.Fatalf("promote: %d", code)
	}
	if rs.Version == before || rs.Rules[1].Mode != "enforce" {
		t.Fatalf("after promote: %+v", rs)
	}
	data, _ := os.ReadFile(filepath.Join(ts.rulesDir, "rules.yaml"))
	if string(data) != strings.Replace(trialRules, "mode: shadow", "mode: enforce", 1) {
		t.Fatalf("on disk:\n%s", data)
	}
	if httpDo(t, nil, "POST", ts.url("/v1/score"), "", body, &d); d.Action != "deny" || d.RulesVersion != rs.Version {
		t.Fatalf("enforced: %+v", d)
	}
	// gRPC: the rule is enforced now.
	rc := pb.NewRulesServiceClient(dial(t, ts.addrs.GRPC, insecure.NewCredentials()))
	if _, err := rc.Promote(withToken(context.Background(), adminToken), &pb.PromoteRuleRequest{RuleId: "legacy-app"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("grpc promote of an enforced rule: %v", err)
	}
}

// TestPromoteFlowStyleRule: a shadow rule written in flow style ({id: ...})
// cannot be edited in place; the admin is told so (400, naming the rule
// and what to do), not answered 500 "internal error" with the reason only
// in the server's log. The overlay in force and its files stay.
func TestPromoteFlowStyleRule(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	const overlay = "settings: {default_mode: shadow}\nrules:\n  - {id: acme-flow, description: Flow., when: 'attempt.channel == \"x\"', action: step_up}\n"
	var tr struct {
		Overlay struct {
			Version string `json:"version"`
		} `json:"overlay"`
	}
	put := map[string]any{"files": []map[string]string{{"name": "acme.yaml", "content": overlay}}}
	if code := httpDo(t, nil, "PUT", ts.url("/v1/tenants/acme/rules"), adminToken, put, &tr); code != 200 {
		t.Fatalf("put: %d", code)
	}
	var e struct {
		Error struct {
			Code, Message, Field string
		} `json:"error"`
	}
	if code := httpDo(t, nil, "POST", ts.url("/v1/tenants/acme/rules:promote"), adminToken, map[string]string{"rule_id": "acme-flow"}, &e); code != 400 ||
		e.Error.Code != "failed_precondition" || e.Error.Field != "rule_id" || !strings.Contains(e.Error.Message, `"acme-flow" is written in flow style`) {
		t.Errorf("promote of a flow-style rule: %d %+v", code, e.Error)
	}
	var after struct {
		Overlay struct {
			Version string `json:"version"`
		} `json:"overlay"`
	}
	if httpDo(t, nil, "GET", ts.url("/v1/tenants/acme/rules"), adminToken, nil, &after); after.Overlay.Version != tr.Overlay.Version {
		t.Errorf("overlay changed: %s, was %s", after.Overlay.Version, tr.Overlay.Version)
	}
	rc := pb.NewRulesServiceClient(dial(t, ts.addrs.GRPC, insecure.NewCredentials()))
	if _, err := rc.PromoteTenant(withToken(context.Background(), adminToken), &pb.PromoteTenantRuleRequest{Tenant: "acme", RuleId: "acme-flow"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("grpc promote of a flow-style rule: %v", err)
	}
}

// TestTenantViewHasNoServerPaths: a tenant's rules, as its own admin token
// reads them (put, get, promote; HTTP and gRPC), name no folder of the
// server: the overlay's persist_path is left out.
func TestTenantViewHasNoServerPaths(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": acmeToken}})
	put := map[string]any{"files": []map[string]string{{"name": "acme.yaml", "content": acmeOverlay}}}
	if code := httpDo(t, nil, "PUT", ts.url("/v1/tenants/acme/rules"), acmeToken, put, nil); code != 200 {
		t.Fatalf("put: %d", code)
	}
	for _, token := range []string{acmeToken, adminToken} {
		var body json.RawMessage
		if code := httpDo(t, nil, "GET", ts.url("/v1/tenants/acme/rules"), token, nil, &body); code != 200 {
			t.Fatalf("get: %d", code)
		}
		if s := string(body); strings.Contains(s, ts.tenantsDir) || strings.Contains(s, "persist_path") {
			t.Errorf("GET /v1/tenants/acme/rules names the server's folder %s", ts.tenantsDir)
		}
	}
	rc := pb.NewRulesServiceClient(dial(t, ts.addrs.GRPC, insecure.NewCredentials()))
	r, err := rc.GetTenant(withToken(context.Background(), acmeToken), &pb.GetTenantRulesRequest{Tenant: "acme"})
	if err != nil || r.Overlay == nil {
		t.Fatalf("grpc GetTenant: %v %v", r, err)
	}
	if b, err := proto.Marshal(r); err != nil || bytes.Contains(b, []byte(ts.tenantsDir)) {
		t.Errorf("grpc GetTenant names the server's folder %s (%v)", ts.tenantsDir, err)
	}
}
