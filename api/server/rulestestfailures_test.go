package server_test

import (
	"context"
	"testing"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// The rules that fail at run time on the tested attempt are in the
// answer of POST /v1/rules:test and RulesService.Test, for the candidate
// and for the ruleset in force: the dry run only logged them, so a rule
// that failed read as one that did not match.
func TestRulesTestNamesRulesThatFailed(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	const candidate = "rules:\n" +
		"  - id: attribute-n\n    description: N.\n    when: int(attempt.attributes[\"n\"]) > 3\n    score: 10\n" +
		"  - id: kiosk-reason\n    description: Kiosk.\n    when: attempt.channel == \"kiosk\"\n    score: 5\n    reason: sprintf(\"n is %d\", int(attempt.attributes[\"n\"]))\n" +
		"  - id: plain\n    description: Plain.\n    when: attempt.channel == \"kiosk\"\n    score: 1\n"
	type failure struct{ Rule, Message string }
	for _, tc := range []struct {
		name       string
		attributes map[string]string
		want       []failure
	}{
		{"both fail", map[string]string{"n": "many"}, []failure{
			{"attribute-n", "when: conversion error at line 1, column 1"},
			{"kiosk-reason", "reason: conversion error at line 1, column 20"},
		}},
		{"none fails", map[string]string{"n": "5"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got struct {
				Decision struct {
					Reasons []struct {
						Rule    string `json:"rule"`
						Message string `json:"message"`
					} `json:"reasons"`
				} `json:"decision"`
				DecisionFailures []failure `json:"decision_failures"`
				CurrentFailures  []failure `json:"current_failures"`
			}
			attempt := map[string]any{"ip": "81.2.69.160", "channel": "kiosk", "attributes": tc.attributes}
			body := map[string]any{"attempt": attempt, "files": []map[string]string{{"name": "c.yaml", "content": candidate}}}
			if code := httpDo(t, nil, "POST", ts.url("/v1/rules:test"), adminToken, body, &got); code != 200 {
				t.Fatalf("HTTP %d", code)
			}
			if len(got.DecisionFailures) != len(tc.want) || len(got.CurrentFailures) != 0 {
				t.Fatalf("HTTP: failures %+v, current %+v, want %+v and none", got.DecisionFailures, got.CurrentFailures, tc.want)
			}
			for i, w := range tc.want {
				if got.DecisionFailures[i] != w {
					t.Errorf("HTTP: failure %d: %+v, want %+v", i, got.DecisionFailures[i], w)
				}
			}

			conn := ts.grpcConn(t)
			tr, err := pb.NewRulesServiceClient(conn).Test(withToken(context.Background(), adminToken), &pb.TestRulesRequest{
				Attempt: &pb.Attempt{Ip: "81.2.69.160", Channel: "kiosk", Attributes: tc.attributes},
				Files:   []*pb.RuleFile{{Name: "c.yaml", Content: candidate}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.DecisionFailures) != len(tc.want) || len(tr.CurrentFailures) != 0 {
				t.Fatalf("gRPC: failures %v, current %v, want %+v and none", tr.DecisionFailures, tr.CurrentFailures, tc.want)
			}
			for i, w := range tc.want {
				if f := tr.DecisionFailures[i]; f.Rule != w.Rule || f.Message != w.Message {
					t.Errorf("gRPC: failure %d: %v, want %+v", i, f, w)
				}
			}
		})
	}
}
