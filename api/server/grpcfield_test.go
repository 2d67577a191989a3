package server_test

import (
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// TestGRPCErrorsNameTheirField: an error HTTP answers naming a field
// names the same field on gRPC, in a google.rpc.BadRequest, whatever its
// code: an unknown decision's NOT_FOUND named no field on gRPC (HTTP said
// decision_id), nor did a stale if_version's ABORTED or a promotion's
// unknown rule_id; a promotion naming no rule was NOT_FOUND on gRPC, a
// 400 on HTTP. The codes stay those HTTP's statuses map from.
func TestGRPCErrorsNameTheirField(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	conn := ts.grpcConn(t)
	risk, rules := pb.NewRiskServiceClient(conn), pb.NewRulesServiceClient(conn)
	admin := withToken(context.Background(), adminToken)
	cases := []struct {
		name   string
		grpc   func() error
		method string
		path   string
		body   any
		code   codes.Code
		status int
		field  string
	}{
		{"an unknown decision",
			func() error {
				_, err := risk.Report(admin, &pb.ReportRequest{DecisionId: "nope", Outcome: pb.Outcome_OUTCOME_LOGIN_FAILED})
				return err
			},
			"POST", "/v1/outcome", map[string]any{"decision_id": "nope", "outcome": "login_failed"},
			codes.NotFound, 404, "decision_id"},
		{"an analyst's label for an unknown decision",
			func() error {
				_, err := risk.Report(admin, &pb.ReportRequest{DecisionId: "nope", Outcome: pb.Outcome_OUTCOME_CONFIRMED_FRAUD})
				return err
			},
			"POST", "/v1/outcome", map[string]any{"decision_id": "nope", "outcome": "confirmed_fraud"},
			codes.NotFound, 404, "decision_id"},
		{"a stale if_version",
			func() error {
				_, err := rules.Promote(admin, &pb.PromoteRuleRequest{RuleId: "new-device", IfVersion: "sha256:000000000000"})
				return err
			},
			"POST", "/v1/rules:promote", map[string]any{"rule_id": "new-device", "if_version": "sha256:000000000000"},
			codes.Aborted, 409, "if_version"},
		{"an unknown rule",
			func() error {
				_, err := rules.Promote(admin, &pb.PromoteRuleRequest{RuleId: "no-such-rule"})
				return err
			},
			"POST", "/v1/rules:promote", map[string]any{"rule_id": "no-such-rule"},
			codes.NotFound, 404, "rule_id"},
		{"a promotion naming no rule",
			func() error {
				_, err := rules.Promote(admin, &pb.PromoteRuleRequest{})
				return err
			},
			"POST", "/v1/rules:promote", map[string]any{"rule_id": ""},
			codes.InvalidArgument, 400, "rule_id"},
		{"a tenant's promotion naming no rule",
			func() error {
				_, err := rules.PromoteTenant(admin, &pb.PromoteTenantRuleRequest{Tenant: "acme"})
				return err
			},
			"POST", "/v1/tenants/acme/rules:promote", map[string]any{"rule_id": ""},
			codes.InvalidArgument, 400, "rule_id"},
		{"a bad field (as before)",
			func() error {
				_, err := risk.Score(admin, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.999"}})
				return err
			},
			"POST", "/v1/score", map[string]any{"ip": "81.2.69.999"},
			codes.InvalidArgument, 400, "ip"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e apiError
			if got := httpDo(t, nil, c.method, ts.url(c.path), adminToken, c.body, &e); got != c.status || e.Error.Field != c.field {
				t.Fatalf("http: %d naming %q, want %d naming %q", got, e.Error.Field, c.status, c.field)
			}
			st := status.Convert(c.grpc())
			if st.Code() != c.code {
				t.Fatalf("grpc: %v, want %v", st.Err(), c.code)
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
						if v.GetDescription() == "" {
							t.Errorf("grpc: the violation of %s has no description", v.GetField())
						}
					}
				}
			}
			want := c.field
			if c.code == codes.InvalidArgument && c.path == "/v1/score" {
				want = "attempt." + c.field // the request's path to it
			}
			if len(fields) != 1 || fields[0] != want {
				t.Errorf("grpc: %v names %q, want %q as HTTP does", st.Err(), fields, want)
			}
		})
	}
}
