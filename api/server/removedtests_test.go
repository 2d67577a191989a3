package server_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// A put that removes a rule file, and with it the rule tests that named
// it, says so in its answer (removed_tests), over HTTP and gRPC: the
// tests went with only a line in the server's log, and a PUT without a
// name (rules.yaml in place of default.yaml) took the analyst's
// default_test.yaml. The rules in force (GET) never list any.
func TestPutSaysWhichRuleTestsItRemoved(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	const ruleText = "rules:\n  - id: a\n    description: A.\n    when: device.new\n    score: 10\n"
	writeTest := func(name, ruleFile string) {
		t.Helper()
		data := "rule_files: [" + ruleFile + "]\ntests:\n  - attempt: {ip: 81.2.69.160}\n    expect: {action: allow}\n"
		if err := os.WriteFile(filepath.Join(ts.rulesDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeTest("rules_test.yaml", "rules.yaml")
	writeTest("kept_test.yaml", "other.yaml")

	var put struct {
		Version      string   `json:"version"`
		RemovedTests []string `json:"removed_tests"`
	}
	body := map[string]any{"files": []map[string]string{{"name": "other.yaml", "content": ruleText}}}
	if code := httpDo(t, nil, "PUT", ts.url("/v1/rules"), adminToken, body, &put); code != 200 || !slices.Equal(put.RemovedTests, []string{"rules_test.yaml"}) {
		t.Errorf("HTTP put: %d, removed_tests %q, want [rules_test.yaml]", code, put.RemovedTests)
	}
	if _, err := os.Stat(filepath.Join(ts.rulesDir, "kept_test.yaml")); err != nil {
		t.Errorf("a rule test of a file the put wrote was removed: %v", err)
	}

	writeTest("other_test.yaml", "other.yaml")
	ctx := withToken(context.Background(), adminToken)
	rs, err := pb.NewRulesServiceClient(ts.grpcConn(t)).Put(ctx, &pb.PutRulesRequest{Files: []*pb.RuleFile{{Name: "third.yaml", Content: ruleText}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.GetRemovedTests(); !slices.Equal(got, []string{"kept_test.yaml", "other_test.yaml"}) {
		t.Errorf("gRPC put: removed_tests %q, want [kept_test.yaml other_test.yaml]", got)
	}

	var get struct {
		RemovedTests []string `json:"removed_tests"`
	}
	if code := httpDo(t, nil, "GET", ts.url("/v1/rules"), adminToken, nil, &get); code != 200 || get.RemovedTests != nil {
		t.Errorf("GET: %d, removed_tests %q, want none", code, get.RemovedTests)
	}
}
