package server_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// TestTenantPutOfLockedRuleRefused: a tenant's admin could put an overlay
// that turned off the operator's deny list (or replaced a stuffing rule
// with a milder one). The built-in rules lock them: the put is refused
// over HTTP (400, the problem's field and line) and gRPC
// (InvalidArgument), naming the tenant and the rule, and counted as a
// rejected put; the tenant's logins still run the locked rule.
func TestTenantPutOfLockedRuleRefused(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": acmeToken}})
	rc := pb.NewRulesServiceClient(ts.grpcConn(t))
	for i, tc := range []struct {
		name, overlay, field string
		line                 int
	}{
		{"disable ip-deny-list", "disable: [ip-deny-list]\n", "disable", 1},
		{"replace stuffing-address-burst", "rules:\n  - id: stuffing-address-burst\n    description: Acme's burst only steps up.\n    when: ip.failures_10m >= 10\n    action: step_up\n", "id", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
					Details []struct {
						File  string `json:"file"`
						Line  int    `json:"line"`
						Rule  string `json:"rule"`
						Field string `json:"field"`
					} `json:"details"`
				} `json:"error"`
			}
			files := []map[string]string{{"name": "acme.yaml", "content": tc.overlay}}
			if code := httpDo(t, nil, "PUT", ts.url("/v1/tenants/acme/rules"), acmeToken, map[string]any{"files": files}, &body); code != 400 {
				t.Fatalf("PUT: %d, want 400", code)
			}
			d := body.Error.Details
			if len(d) != 1 || d[0].File != "acme.yaml" || d[0].Line != tc.line || d[0].Field != tc.field || !strings.Contains(body.Error.Message, "tenant acme cannot") || !strings.Contains(body.Error.Message, "locked") {
				t.Errorf("PUT: %+v", body.Error)
			}
			_, err := rc.PutTenant(withToken(context.Background(), acmeToken), &pb.PutTenantRulesRequest{Tenant: "acme", Files: []*pb.RuleFile{{Name: "acme.yaml", Content: tc.overlay}}})
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "acme.yaml:") || !strings.Contains(err.Error(), "tenant acme cannot") {
				t.Errorf("grpc PutTenant: %v, want InvalidArgument naming the file, the tenant and the rule", err)
			}
			if got := ts.metricValue(t, "riskgate_rules_reloads_total", "trigger", "api", "result", "rejected"); got != float64(2*(i+1)) {
				t.Errorf(`riskgate_rules_reloads_total{trigger="api",result="rejected"} %v, want %d`, got, 2*(i+1))
			}
		})
	}
}

// TestRuleViewsSayLocked: the rules' views say which rules are locked,
// to the operator and to a tenant's admin, over HTTP and gRPC, so that a
// tenant learns it before an overlay is refused: the built-ins lock
// ip-deny-list and leave new-device for tenants to tune.
func TestRuleViewsSayLocked(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": acmeToken}})
	rc := pb.NewRulesServiceClient(ts.grpcConn(t))
	check := func(t *testing.T, view string, locked map[string]bool) {
		t.Helper()
		for id, want := range map[string]bool{"ip-deny-list": true, "stuffing-address-burst": true, "new-device": false} {
			got, ok := locked[id]
			if !ok {
				t.Errorf("%s: no rule %s", view, id)
			} else if got != want {
				t.Errorf("%s: %s locked %v, want %v", view, id, got, want)
			}
		}
	}
	type rulesBody struct {
		Rules []struct {
			ID     string `json:"id"`
			Locked *bool  `json:"locked"`
		} `json:"rules"`
	}
	fromJSON := func(b rulesBody) map[string]bool {
		m := map[string]bool{}
		for _, r := range b.Rules {
			m[r.ID] = r.Locked != nil && *r.Locked
		}
		return m
	}
	fromPB := func(rs []*pb.Rule) map[string]bool {
		m := map[string]bool{}
		for _, r := range rs {
			m[r.GetId()] = r.GetLocked()
		}
		return m
	}
	var shared, tenant rulesBody
	if code := httpDo(t, nil, "GET", ts.url("/v1/rules"), adminToken, nil, &shared); code != 200 {
		t.Fatalf("GET /v1/rules: %d", code)
	}
	check(t, "GET /v1/rules", fromJSON(shared))
	if code := httpDo(t, nil, "GET", ts.url("/v1/tenants/acme/rules"), acmeToken, nil, &tenant); code != 200 {
		t.Fatalf("GET /v1/tenants/acme/rules: %d", code)
	}
	check(t, "GET /v1/tenants/acme/rules", fromJSON(tenant))
	rs, err := rc.Get(withToken(context.Background(), adminToken), &pb.GetRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "grpc Get", fromPB(rs.GetRules()))
	tr, err := rc.GetTenant(withToken(context.Background(), acmeToken), &pb.GetTenantRulesRequest{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "grpc GetTenant", fromPB(tr.GetRules()))
}
