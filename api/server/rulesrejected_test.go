package server_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// TestRejectedPutIsNoReloadFailure: a put of rules that do not compile
// (an analyst's typo, over HTTP or gRPC, shared or a tenant's) is counted
// in riskgate_rules_reloads_total{trigger="api",result="rejected"}, not
// as a failure: result="failure" is rule files that do not load, which an
// alert on increase(...{result="failure"}) pages for, and a put refused
// to its sender with its problems changed nothing. A rule file broken on
// disk is still a failure.
func TestRejectedPutIsNoReloadFailure(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": acmeToken}})
	rules := pb.NewRulesServiceClient(ts.grpcConn(t))
	admin := withToken(context.Background(), adminToken)
	bad := "rules:\n  - id: typo\n    description: Misspelt field.\n    when: geo.impossible_travle\n    action: deny\n"
	files := []map[string]string{{"name": "bad.yaml", "content": bad}}

	if code := httpDo(t, nil, "PUT", ts.url("/v1/rules"), adminToken, map[string]any{"files": files}, nil); code != 400 {
		t.Fatalf("PUT /v1/rules of a typo: %d, want 400", code)
	}
	if _, err := rules.Put(admin, &pb.PutRulesRequest{Files: []*pb.RuleFile{{Name: "bad.yaml", Content: bad}}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("grpc Put of a typo: %v, want InvalidArgument", err)
	}
	if code := httpDo(t, nil, "PUT", ts.url("/v1/tenants/acme/rules"), acmeToken, map[string]any{"files": []map[string]string{{"name": "acme.yaml", "content": "disable: [no-such-rule]\n"}}}, nil); code != 400 {
		t.Fatalf("PUT of acme's overlay disabling no rule: %d, want 400", code)
	}
	reloads := func(trigger, result string) float64 {
		return ts.metricValue(t, "riskgate_rules_reloads_total", "trigger", trigger, "result", result)
	}
	if got := reloads("api", "rejected"); got != 3 {
		t.Errorf(`riskgate_rules_reloads_total{trigger="api",result="rejected"} %v, want 3`, got)
	}
	if got := reloads("api", "failure"); got != 0 {
		t.Errorf(`riskgate_rules_reloads_total{trigger="api",result="failure"} %v after puts refused, want 0`, got)
	}
	if got := ts.metricValue(t, "riskgate_rules_last_reload_success"); got != 1 {
		t.Errorf("riskgate_rules_last_reload_success %v after puts refused, want 1", got)
	}

	// The same typo written to the rules folder: the files do not load.
	if err := os.WriteFile(filepath.Join(ts.rulesDir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the broken file's reload counted as a failure", func() bool {
		return reloads("file", "failure") >= 1 && ts.metricValue(t, "riskgate_rules_last_reload_success") == 0
	})
	if got := reloads("api", "failure"); got != 0 {
		t.Errorf(`riskgate_rules_reloads_total{trigger="api",result="failure"} %v, want 0`, got)
	}
}
