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
